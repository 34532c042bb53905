// test/acme-account.test.js on a depot.db depot: the ACME state in the record store (store/acme/).
process.env.PKI_DEPOT_FORMAT = "db";
await import("./acme-account.test.js");
