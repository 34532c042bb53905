// test/acme-ari.test.js (ARI windows, newOrder's replaces recorded and shown by `pki list`, renew-now) on a depot
// in a throwaway PostgreSQL (--depot postgresql://...): the same test code as on a directory.
import test from "ava";

const { useCluster } = await import("./_postgres.js");
const { postgresDepots } = await import("./_acme.js");
await import("./acme-ari.test.js");
postgresDepots(useCluster(test));
