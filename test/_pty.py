# Runs a command on a pseudo-terminal (stdin, stdout and stderr a terminal) and answers what it asks: each time the
# prompt pattern shows once more, the next answer is typed as given; past the answers, end of input (Ctrl-D) if
# "eof", else nothing. Prints {"code", "out", "prompts"} as JSON. The select timeout only stops a hung child.
# Driven by test/_pty.js.
import json, os, pty, re, select, sys

spec, cmd = json.loads(sys.argv[1]), sys.argv[2:]
prompt, answers, eof = re.compile(spec["prompt"].encode()), spec["answers"], spec["eof"]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, sent = b"", 0
while True:
    if len(prompt.findall(out)) > sent and (sent < len(answers) or eof):
        os.write(fd, answers[sent].encode() if sent < len(answers) else b"\x04")
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
