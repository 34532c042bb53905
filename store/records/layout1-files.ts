/**
 * The files of layout 1 (an earlier release's depot) and whether any is still beside depot.db: the upgrade moves
 * them aside one rename at a time after depot.db is linked, so a crash between two renames leaves some behind,
 * perhaps without depot.json (it moves second). Kept apart from layout1-upgrade.ts so that opening a depot asks
 * this without loading the upgrade.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Where the upgrade keeps layout 1's files (DIR/layout1-backup/), named in the README. */
export const LAYOUT1_BACKUP = "layout1-backup";
/** What layout 1 holds besides the lock; index.json and depot.json move first, so no earlier pki sees half. */
export const LAYOUT1_FILES = ["index.json", "depot.json", "ca.crt", "ca.key", "ca.crl", "certs", "history", "acme"];

/** Some file of layout 1 is still in DIR: beside depot.db, an upgrade that a crash cut short after the link. */
export function layout1Remains(dir: string): boolean {
  return LAYOUT1_FILES.some((f) => existsSync(join(dir, f)));
}
