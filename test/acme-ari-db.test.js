// The ARI tests of acme-ari.test.js on a depot.db depot: the record store's ACME state (store/acme/state.ts)
// carries replaces and renew-now marks, and pki list reads them from its rows.
process.env.PKI_DEPOT_FORMAT = "db";
await import("./acme-ari.test.js");
