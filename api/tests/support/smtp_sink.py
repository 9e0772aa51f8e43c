#!/usr/bin/env python3
"""A real SMTP server for monostat's tests, built on aiosmtpd.

Stores every accepted message as one file in DIR (written aside, then renamed, so a
reader never sees half a message), with the envelope recipient in a first
`X-Sink-Rcpt:` line. RCPT TO addresses containing the --reject text are refused with
550. RCPT TO addresses containing the --greylist text are deferred with 451 the first
time and accepted afterwards, as greylisting servers do. --delay slows each DATA down,
so tests can interrupt a fan-out halfway. --hold-after N accepts N messages, then holds
every further DATA (unanswered, nothing stored) until a file named `.release` appears in
DIR, so a test can kill a client while its deliveries are in flight; a client that
disconnects meanwhile has its message dropped, as a real server would.

As mail providers run it: with --cert/--key the server offers STARTTLS (and, with
--require-starttls, refuses mail before it), or speaks TLS from the first byte with
--implicit-tls; with --user/--password it requires AUTH, offered only over TLS.

    smtp_sink.py --port 2525 --dir /tmp/mails [--reject reject] [--greylist grey]
                 [--delay 0.05] [--hold-after 10]
                 [--cert cert.pem --key key.pem [--require-starttls | --implicit-tls]]
                 [--user name --password secret]

Prints "ready" once it listens; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import os
import signal
import ssl
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, reject, greylist, delay, hold_after=None):
        self.directory = directory
        self.hold_after = hold_after
        self.stored = 0
        self.reject = reject
        self.greylist = greylist
        self.deferred = set()
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if self.greylist and self.greylist in address and address not in self.deferred:
            self.deferred.add(address)
            return "451 4.7.1 <%s>: greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold_after is not None and self.stored >= self.hold_after:
            release = os.path.join(self.directory, ".release")
            while not os.path.exists(release):
                await asyncio.sleep(0.02)
            # A test releases the held mails right after killing their sender. Give the
            # event loop a moment to notice the lost connection, which cancels this
            # handler: a real server never accepts a mail whose sender is gone, and
            # storing it here would count as a duplicate that nothing sent.
            await asyncio.sleep(0.2)
        self.stored += 1
        name = uuid.uuid4().hex
        partial = os.path.join(self.directory, "." + name + ".partial")
        with open(partial, "wb") as f:
            f.write(b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(partial, os.path.join(self.directory, name + ".eml"))
        return "250 2.0.0 Message accepted"


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


def smtp_options(args):
    """The Controller's keyword arguments for TLS and AUTH, from the command line."""
    options = {}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.implicit_tls:
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
            options["require_starttls"] = args.require_starttls
    if args.user:
        options["authenticator"] = Authenticator(args.user, args.password or "")
        options["auth_required"] = True
        # Never a password in clear text: AUTH is offered only inside TLS. aiosmtpd
        # knows of TLS only after STARTTLS; with implicit TLS every byte is inside it.
        options["auth_require_tls"] = not args.implicit_tls
    return options


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject", default=None)
    parser.add_argument("--greylist", default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hold-after", type=int, default=None)
    parser.add_argument("--cert", default=None)
    parser.add_argument("--key", default=None)
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user", default=None)
    parser.add_argument("--password", default=None)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Sink(args.dir, args.reject, args.greylist, args.delay, args.hold_after),
        hostname="127.0.0.1",
        port=args.port,
        ready_timeout=10,
        **smtp_options(args),
    )
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()

    async def wait():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    asyncio.run(wait())
    controller.stop()


if __name__ == "__main__":
    main()
