// test/acme-http01-fresh.test.js on a depot.db depot: the ACME state in the record store (store/acme/).
process.env.PKI_DEPOT_FORMAT = "db";
await import("./acme-http01-fresh.test.js");
