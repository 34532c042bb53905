// test/inspect.test.js on a depot.db depot: what pki inspect says of a file relative to the depot (its CA, entry,
// key, CRL) comes from the record store.
process.env.PKI_DEPOT_FORMAT = "db";
await import("./inspect.test.js");
