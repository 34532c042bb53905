// test/acme-negative.test.js on a depot.db depot: bad input gets its problem document and changes no entry or ACME row.
process.env.PKI_DEPOT_FORMAT = "db";
await import("./acme-negative.test.js");
