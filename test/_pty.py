# Runs a command on a pseudo-terminal and answers its passphrase prompts, one answer per prompt, in order; a prompt
# beyond the answers gets end-of-input (Ctrl-D). Prints {"code", "out"} as JSON. Used by test/traps.test.js.
import json, os, pty, re, select, sys

answers, cmd = json.loads(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, sent = b"", 0
PROMPT = re.compile(rb"(?:Passphrase for|Repeat the passphrase)[^\r\n]*: ")
while True:
    if len(PROMPT.findall(out)) > sent:
        os.write(fd, (answers[sent].encode() + b"\r") if sent < len(answers) else b"\x04")
        sent += 1
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "out": out.decode(errors="replace"), "prompts": sent}))
