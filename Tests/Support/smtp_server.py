#!/usr/bin/env python3
"""A real SMTP server for eventfilter's transport tests, built on aiosmtpd.

    python3 smtp_server.py --dir DIR [--port 0] [--tls-cert C --tls-key K [--implicit-tls]]
                           [--auth user:password] [--no-pipelining]

Prints "READY <port>" on stdout once it accepts connections, and runs until SIGTERM, SIGINT or
end of stdin (so it also dies with the test process that started it).

For each accepted message it writes DIR/<n>.eml with the exact bytes received (CRLF kept,
dot-stuffing undone: aiosmtpd's envelope.original_content) and DIR/<n>.json with the envelope
and session: mail_from, rcpt_tos, mail_options, smtp_utf8, peer [host, port] (the client's port tells
connections apart), helo, tls, authenticated and queue_id. <n> counts from 1; both files appear
(renamed into place) before the 250 reply is sent. The reply names the message's queue id the way
Postfix does, "250 2.0.0 Ok: queued as <queue_id>", with a random queue_id (10 upper-case hex
digits), so a client's record of the reply can be checked against the server's.

DIR/connections holds the number of connections accepted so far, DIR/auth-attempts the
number of AUTH commands with credentials (right or wrong) and DIR/mail-commands the number of
MAIL FROM commands, each updated before the greeting or the reply is sent. All start at 0.

The EHLO reply offers PIPELINING (RFC 2920: the client may send MAIL, RCPT and DATA in one write
and read their replies afterwards; aiosmtpd reads commands from a stream, so it answers them in
order), unless --no-pipelining is given, which makes a client wait for each reply in turn.
DIR/commands-in-one-read counts the times the server found a command already waiting behind the
one it had just read: 0 for a client that waits for each reply.

Scripted answers:
    RCPT address containing "bad"        -> 550 5.1.1 no such user
    RCPT address containing "busy"       -> 451 4.3.0 mailbox busy, try again later
    MAIL address containing "badsender"  -> 553 5.7.1 sender address rejected
    message containing "X-Test-Reject: yes" -> 554 5.6.0 message content rejected
    message containing "X-Test-Defer: yes"  -> 452 4.3.1 insufficient system storage
    message containing "X-Test-Slow: S"     -> accepted as usual, but the reply to its final "."
                                               comes S seconds late (the other connections go on)
    --tls-cert/--tls-key: STARTTLS offered and required before MAIL (or, with --implicit-tls,
                          TLS from the first byte)
    --auth user:password: AUTH PLAIN/LOGIN required before MAIL; wrong credentials -> 535
    --lock-db PATH --lock-seconds S: on the first accepted message, take SQLite's write lock on
                          PATH (BEGIN IMMEDIATE) before the 250 reply and hold it S seconds, so
                          the client finds its store locked right after the server accepted

A failing server, switched on and off while it runs by the file DIR/misbehave (read at every
command; absent or empty: behave), one line "ACTION STAGE":
    ACTION  hang  never answer (until the client gives up and closes the connection)
            421   answer "421 4.3.2 service shutting down" and close the connection
            451once  answer "451 4.3.0 try again later" once, keep the connection, and remove
                  DIR/misbehave (so the next attempt is accepted: a greylisting server)
            endless  answer with 4 MiB of "250-" continuation lines and never end the reply
    STAGE   ehlo  the EHLO command, right after the greeting
            mail  MAIL FROM      rcpt  RCPT TO      data  the DATA command (before 354)
            dot   the end of the message (the final ".")      quit  the QUIT command
"""
import argparse
import asyncio
import json
import secrets
import sqlite3
import os
import re
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

SHUTTING_DOWN = "421 4.3.2 service shutting down"


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


class Counter:
    """A number kept in a file of DIR, for the tests to read."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.reset()

    def reset(self):
        self.value = 0
        write_atomically(self.path, b"0")
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY)

    def increment(self):
        # Called from the server's event loop only: no lock needed. The number only grows, so
        # its new text is never shorter than the old one and overwrites it whole in place: a
        # reader sees the old number or the new one. Replacing the file by a rename, as reset()
        # does, cost about 0.35 ms a time on ext4 (which flushes a file renamed over another),
        # most of the server's time per message.
        self.value += 1
        os.pwrite(self.fd, str(self.value).encode(), 0)


class Misbehaviour:
    """What DIR/misbehave asks for at a stage: None (behave), "hang", "421", "451once" or "endless"."""

    def __init__(self, path):
        self.path = path

    def at(self, stage):
        try:
            with open(self.path) as f:
                words = f.read().split()
        except FileNotFoundError:
            return None
        if len(words) == 2 and words[1] == stage and words[0] in ("hang", "421", "451once", "endless"):
            return words[0]
        return None

    def clear(self):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


TRY_LATER = "451 4.3.0 try again later"


async def misbehave(server, action, misbehaviour=None):
    """Hangs (the client's disconnect cancels the wait), answers 421 and hangs up, answers 451
    once, or starts a reply that never ends. Returns the reply to send, or None when the command
    must not be answered."""
    if action == "451once":
        if misbehaviour is not None:
            misbehaviour.clear()
        return TRY_LATER
    if action == "hang":
        await asyncio.sleep(3600)
        return None
    if action == "endless":
        # A reply that never ends: 4 MiB of "250-" continuation lines, then silence.
        line = b"250-" + b"x" * 506 + b"\r\n"
        for _ in range(8192):
            server.transport.write(line)
        await asyncio.sleep(3600)
        return None
    # RFC 5321 section 3.8: a 421 reply means the server closes the channel. The close runs
    # after the reply is written (transport.close() flushes first).
    asyncio.get_running_loop().call_soon(server.transport.close)
    return SHUTTING_DOWN


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with the DIR/misbehave stages that have no handler hook (EHLO, DATA), and
    PIPELINING in the EHLO reply unless switched off."""

    def __init__(self, handler, misbehaviour, pipelining, pipelined_commands, **kwargs):
        super().__init__(handler, **kwargs)
        self.misbehaviour = misbehaviour
        self.pipelining = pipelining
        self.pipelined_commands = pipelined_commands

    async def push(self, status):
        await super().push(status)
        # A reply just went out: any bytes already buffered are commands the client sent
        # before it could have read that reply (pipelined).
        if self._reader is not None and len(getattr(self._reader, "_buffer", b"")) > 0 and not status.startswith("354"):
            self.pipelined_commands.increment()

    async def misbehaved_at(self, stage):
        """Acts out the script's action for STAGE, if it has one: True when it did, and the
        command is then not handled as aiosmtpd would."""
        action = self.misbehaviour.at(stage)
        if not action:
            return False
        reply = await misbehave(self, action, self.misbehaviour)
        if reply:
            await self.push(reply)
        return True

    async def smtp_EHLO(self, hostname):
        if not await self.misbehaved_at("ehlo"):
            await super().smtp_EHLO(hostname)

    async def smtp_QUIT(self, arg):
        if not await self.misbehaved_at("quit"):
            await super().smtp_QUIT(arg)

    async def smtp_DATA(self, arg):
        if not await self.misbehaved_at("data"):
            await super().smtp_DATA(arg)


class CountingController(Controller):
    """Counts connections: aiosmtpd calls factory() once per accepted connection."""

    def __init__(self, handler, connections, misbehaviour, pipelining, pipelined_commands, **kwargs):
        super().__init__(handler, **kwargs)
        self.connections = connections
        self.misbehaviour = misbehaviour
        self.pipelining = pipelining
        self.pipelined_commands = pipelined_commands

    def factory(self):
        self.connections.increment()
        return ScriptedSMTP(self.handler, self.misbehaviour, self.pipelining, self.pipelined_commands, **self.SMTP_kwargs)


class RecordingHandler:
    def __init__(self, directory, misbehaviour, mail_commands, lock_db=None, lock_seconds=0.0):
        self.directory = directory
        self.misbehaviour = misbehaviour
        self.mail_commands = mail_commands
        self.count = 0
        self.lock_db = lock_db
        self.lock_seconds = lock_seconds

    def hold_write_lock(self):
        """Takes the store's write lock now and lets it go after lock_seconds, in a timer thread."""
        connection = sqlite3.connect(self.lock_db, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("BEGIN IMMEDIATE")

        def release():
            connection.execute("ROLLBACK")
            connection.close()
        threading.Timer(self.lock_seconds, release).start()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd's five-argument hook: it gets the reply's lines ("250 HELP" last) and returns
        # the lines to send; the session's host name is then the hook's to set.
        session.host_name = hostname
        if server.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands.increment()
        action = self.misbehaviour.at("mail")
        if action:
            return await misbehave(server, action, self.misbehaviour)
        if "badsender" in address:
            return "553 5.7.1 sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        action = self.misbehaviour.at("rcpt")
        if action:
            return await misbehave(server, action, self.misbehaviour)
        if "bad" in address:
            return "550 5.1.1 no such user"
        if "busy" in address:
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        action = self.misbehaviour.at("dot")
        if action:
            return await misbehave(server, action, self.misbehaviour)
        content = envelope.original_content
        if b"X-Test-Reject: yes" in content:
            return "554 5.6.0 message content rejected"
        if b"X-Test-Defer: yes" in content:
            return "452 4.3.1 insufficient system storage"
        slow = re.search(rb"X-Test-Slow: ([0-9.]+)", content)
        if slow:
            await asyncio.sleep(float(slow.group(1)))
        # The event loop runs handlers one at a time: the counter needs no lock.
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        queue_id = secrets.token_hex(5).upper()
        sidecar = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            # MAIL FROM said SMTPUTF8 (aiosmtpd takes it out of mail_options).
            "smtp_utf8": bool(envelope.smtp_utf8),
            "peer": list(session.peer)[:2] if session.peer else None,
            "helo": session.host_name,
            # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "queue_id": queue_id,
        }
        for suffix, data in ((".eml", content), (".json", json.dumps(sidecar).encode())):
            write_atomically(base + suffix, data)
        if self.lock_db and self.count == 1:
            self.hold_write_lock()
        return "250 2.0.0 Ok: queued as %s" % queue_id


def make_authenticator(user, password, attempts):
    def authenticate(server, session, envelope, mechanism, auth_data):
        attempts.increment()
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return authenticate


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", help="user:password")
    parser.add_argument("--smtputf8", action="store_true", help="offer SMTPUTF8 (UTF-8 addresses, RFC 6531)")
    parser.add_argument("--no-pipelining", action="store_true", help="leave PIPELINING out of the EHLO reply")
    parser.add_argument("--lock-db", help="an SQLite file to lock after the first message")
    parser.add_argument("--lock-seconds", type=float, default=2.0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    kwargs = {}
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            kwargs["ssl_context"] = tls
        else:
            kwargs["tls_context"] = tls
            kwargs["require_starttls"] = True
    connections = Counter(os.path.join(args.dir, "connections"))
    auth_attempts = Counter(os.path.join(args.dir, "auth-attempts"))
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = make_authenticator(user, password, auth_attempts)
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = bool(tls) and not args.implicit_tls

    if args.smtputf8:
        kwargs["enable_SMTPUTF8"] = True
    misbehaviour = Misbehaviour(os.path.join(args.dir, "misbehave"))
    mail_commands = Counter(os.path.join(args.dir, "mail-commands"))
    pipelined_commands = Counter(os.path.join(args.dir, "commands-in-one-read"))
    handler = RecordingHandler(args.dir, misbehaviour, mail_commands, args.lock_db, args.lock_seconds)
    controller = None
    # A port picked free can be taken before we bind it again: try a few.
    for attempt in range(5):
        port = args.port or free_port()
        try:
            controller = CountingController(handler, connections, misbehaviour, not args.no_pipelining,
                                            pipelined_commands, hostname="127.0.0.1", port=port, **kwargs)
            controller.start()
            # start() connects once itself to check that the server runs: not a client's.
            connections.reset()
            pipelined_commands.reset()
            break
        except Exception as error:  # noqa: BLE001 - report and retry any bind failure
            print("port %d failed: %s" % (port, error), file=sys.stderr)
            controller = None
            if args.port:
                break
    if controller is None:
        print("FAILED to start", flush=True)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            stop.set()
    threading.Thread(target=watch_stdin, daemon=True).start()

    print("READY %d" % port, flush=True)
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
