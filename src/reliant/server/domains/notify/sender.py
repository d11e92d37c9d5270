"""Sending built requests: HTTP through httpx, email through smtplib (the I/O of delivery).

A :class:`Sender` is the seam tests use: give it an ``httpx.Client`` of your own, or an SSL
context that trusts a test SMTP server's certificate.
"""

from __future__ import annotations

import smtplib
import ssl

import httpx

from reliant.server.domains.notify.outbox import DEAD, DELIVERED, RETRY, Result, classify
from reliant.server.domains.notify.outbox import parse_retry_after as _retry_after
from reliant.server.domains.notify.payloads import EmailOut, HttpRequest

#: Seconds an HTTP request or SMTP conversation may take.
DEFAULT_TIMEOUT = 10.0
#: Seconds a connection may take to open.
CONNECT_TIMEOUT = 5.0


class Sender:
    """Delivers :class:`HttpRequest` and :class:`EmailOut` values and classifies the answers.

    Args:
        http: the HTTP client (one with the timeouts below when omitted; redirects are
            never followed).
        timeout: seconds an attempt may take.
        ssl_context: TLS settings for SMTP (the system's trusted CAs when omitted).
    """

    def __init__(
        self,
        *,
        http: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._http = http
        self._own = http is None
        self.timeout = timeout
        self._ssl_context = ssl_context

    @property
    def http(self) -> httpx.Client:
        """The HTTP client, made on first use when none was given."""
        if self._http is None:
            self._http = httpx.Client(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
                follow_redirects=False,
            )
        return self._http

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """TLS settings for SMTP, the system's when none were given."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def close(self) -> None:
        """Close the HTTP client if this sender made it."""
        if self._own and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, out: HttpRequest | EmailOut, *, now: float) -> Result:
        """Deliver ``out`` once and say what came of it; never raises for I/O errors.

        Args:
            out: the request or email.
            now: the time, against which a ``Retry-After`` date is read.
        """
        if isinstance(out, EmailOut):
            return self._email(out)
        try:
            response = self.http.request(out.method, out.url, headers=out.headers, content=out.body)
        except httpx.TimeoutException:
            return Result(outcome=RETRY, status_code=None, detail=f"timed out ({self.timeout:g} s)")
        except httpx.HTTPError as exc:
            return Result(outcome=RETRY, status_code=None, detail=f"{type(exc).__name__}: {exc}")
        wait = _retry_after(response.headers.get("retry-after"), now)
        return classify(response.status_code, response.text, wait)

    def _email(self, out: EmailOut) -> Result:
        try:
            self._smtp(out)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            outcome = DEAD if all(code >= 500 for code in codes) else RETRY
            return Result(
                outcome=outcome, status_code=max(codes), detail=f"recipients refused: {exc}"
            )
        except smtplib.SMTPNotSupportedError as exc:
            detail = f"{exc}: the server offers no STARTTLS; set tls to ssl or none"
            return Result(outcome=DEAD, status_code=None, detail=detail)
        except smtplib.SMTPResponseException as exc:
            outcome = DEAD if exc.smtp_code >= 500 else RETRY
            message = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return Result(
                outcome=outcome,
                status_code=exc.smtp_code,
                detail=f"SMTP {exc.smtp_code}: {message}",
            )
        except ssl.SSLCertVerificationError as exc:
            return Result(
                outcome=DEAD, status_code=None, detail=f"TLS certificate not trusted: {exc}"
            )
        except (OSError, smtplib.SMTPException) as exc:
            return Result(outcome=RETRY, status_code=None, detail=f"{type(exc).__name__}: {exc}")
        return Result(
            outcome=DELIVERED, status_code=250, detail=f"accepted by {out.host}:{out.port}"
        )

    def _smtp(self, out: EmailOut) -> None:
        smtp: smtplib.SMTP
        if out.tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                out.host, out.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            smtp = smtplib.SMTP(out.host, out.port, timeout=self.timeout)
        with smtp:
            if out.tls == "starttls":
                smtp.starttls(context=self.ssl_context)
            if out.username:
                smtp.login(out.username, out.password)
            smtp.send_message(out.message, from_addr=out.sender, to_addrs=out.recipients)
