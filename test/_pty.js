// Runs pki on a real pty (python3's pty module): stdin, stdout and stderr a terminal.
import { join } from "node:path";
import { PKI, run } from "./_helpers.js";

// Runs argv on a new pty; once `wait` shows up, types `answer` (a line, or "\x04" for end of input); prints
// {code, out} as JSON. The select timeout only stops a hung child.
const DRIVER = String.raw`import json, os, pty, select, sys
argv, wait, answer = json.loads(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent = b"", False
while True:
    if not select.select([fd], [], [], 60)[0]:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and wait in out:
        os.write(fd, answer)
        sent = True
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "out": out.decode(errors="replace")}))
`;

/** `pki ARGS` on a terminal in the depot of `dir`, answering what it asks with `answer` once `wait` shows. */
export async function onTerminal(t, dir, args, answer = "", wait = "[y/N] ") {
  const env = { ...process.env, PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE_FILE: join(dir, "pass") };
  const r = await run("python3", ["-c", DRIVER, JSON.stringify([process.execPath, PKI, ...args]), wait, answer], { env, cwd: dir });
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.out);
}
