"""The pillar's end of the protocol: assembles chunks, applies frames and deltas, verifies hashes,
acknowledges. Its state (firmware_bridge/states.py) says whether it shows a verified frame, and so
whether it takes the retained one; a message it cannot verify is a typed RemoteProtocolError kept in
`last_error`, and moves it to ERROR (showing nothing) or KEEPING (its last good frame) until a
verified frame arrives."""

from __future__ import annotations

import json

import numpy as np

from . import codec
from .codec import FLAG_FULL_REFRESH, KIND_FULL, CodecError
from .forecast import Forecast, ForecastError, parse_forecast
from .messages import Publish, hex_hash
from .states import (
    Action,
    BaseMismatch,
    HashMismatch,
    MalformedMessage,
    PillarEvent,
    PillarState,
    RemoteProtocolError,
    Unauthentic,
    step,
)
from .ticker import Ticker, TickerError, parse_ticker
from .topics import display_topic

__all__ = ["PillarSession"]


FRAME_WAIT = 10  # seconds a pillar that shows nothing waits for the retained frame before asking for one


class PillarSession:
    """A pillar's end: assembles frames and deltas, verifies hashes, acknowledges."""

    def __init__(self, display_id: str, prefix: str, key: bytes = b"") -> None:
        self.display_id = display_id
        self.key = key  # the display's frame key: only messages signed with it are used (b"": none provisioned)
        self.prefix = prefix
        self.raster: np.ndarray | None = None
        self.hash: int | None = None
        self.color_mode = ""
        self.size = (800, 480)  # width, height of the last frame: the size of the "no current data" screen
        self.valid_until = 0
        self.epoch = 0  # the highest ownership epoch seen: messages from earlier owners are ignored
        self.sequence = -1
        self.full_refresh = False
        self.applied = 0
        self.state = PillarState.WAITING
        self.last_error: RemoteProtocolError | None = None  # why the last refused message was refused
        self.refused = 0
        self._chunks: dict[tuple[int, ...], dict[int, bytes]] = {}  # (kind, epoch, seq, hash, base) -> index -> body
        self.ticker: Ticker | None = None  # the alert strip it scrolls over the frame (docs/mqtt.md, "Ticker")
        self.ticker_since = 0.0  # when it arrived: the scroll position follows from it
        self.stop_name = ""  # from the retained board JSON: what the "no current data" screen is titled
        self.utc_offset = 0  # minutes: the stop's local time minus UTC, from the board JSON's clock and time
        self.forecast: Forecast | None = None  # the predicted frames it shows once its own frame has run out
        self._predicted: tuple[int, np.ndarray, str] | None = None  # (step, raster, colour mode) last built

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    def _event(self, event: PillarEvent) -> Action:
        """Move along the transition table (states.py); the action it names is what the caller does next."""
        self.state, action = step(self.state, event)
        return action

    @property
    def wants_frame(self) -> bool:
        """Whether the pillar shows nothing and so takes the retained frame (subscribed to `frame/#`): its state
        says so (WAITING, or ERROR: it refused a message while it showed nothing)."""
        return self.state in (PillarState.WAITING, PillarState.ERROR)

    def subscriptions(self) -> list[str]:
        """What the pillar is subscribed to now: `delta` and `ticker` always; `frame/#` and `board` while it shows
        nothing (the retained board names the stop and its time zone for the "no current data" screen)."""
        return [self._topic("delta"), self._topic("ticker"), self._topic("next"),
                *([self._topic("frame/#"), self._topic("board")] if self.wants_frame else [])]

    def will(self) -> Publish:
        """The Last Will the pillar registers: offline, retained."""
        return Publish(self._topic("status"), json.dumps({"state": "offline"}).encode(), True)

    def hello(self, details: dict | None = None) -> list[Publish]:
        """What the pillar says after connecting: online, that it scrolls the ticker, and what it shows (nothing: it
        takes the retained frame)."""
        status = {"state": "online", "ticker": True, **(details or {})}  # it scrolls the ticker itself
        if self.hash is not None:
            status["shows"] = hex_hash(self.hash)
        return [Publish(self._topic("status"), json.dumps(status).encode(), True), self._ack()]

    def no_frame(self) -> list[Publish]:
        """After FRAME_WAIT seconds of showing nothing without a usable retained frame: ask for a full one."""
        return [self._ack(need_full=True)] if self.wants_frame else []

    def expire(self, now: int) -> list[Publish]:
        """When the shown frame's validity has run out: show "no current data" and take the retained frame."""
        if self.raster is None or now <= self.valid_until:
            return []
        self.size = (self.raster.shape[1], self.raster.shape[0])
        self.raster, self.hash = None, None
        self._event(PillarEvent.EXPIRED)
        return [self._ack()]

    def _ack(self, need_full: bool = False) -> Publish:
        doc = {
            "hash": hex_hash(self.hash) if self.hash is not None else None,
            "seq": self.sequence,
            "need_full": need_full,
        }
        return Publish(self._topic("ack"), json.dumps(doc).encode(), False)

    def is_current(self, now: int) -> bool:
        """Whether the pillar may show its frame: it has one and its validity has not run out."""
        return self.raster is not None and now <= self.valid_until

    def receive(self, topic: str, payload: bytes, now: int) -> list[Publish]:
        """Apply a frame, a chunk or a delta; answer with an ack (what it shows, or a request for a full frame).
        A message on another display's topics (a broker that delivers what was not subscribed) is never shown."""
        if topic == self._topic("ticker"):
            self._scroll(payload, now)
        elif topic == self._topic("next"):
            self._foresee(payload)
        elif topic == self._topic("board") and payload:  # (an empty payload: a cleared retained message)
            self._learn(payload)
        elif payload and (
            topic in (self._topic("frame"), self._topic("delta")) or topic.startswith(self._topic("frame/"))
        ):
            return self._apply(topic, payload, now)
        return []

    def _apply(self, topic: str, payload: bytes, now: int) -> list[Publish]:
        """A frame, a chunk or a delta: verified, assembled, applied, acknowledged (or refused, or ignored)."""
        try:
            header = codec.parse_header(payload)
            payload = codec.verified(payload, self.key)
        except CodecError as exc:
            error = Unauthentic if "MAC" in str(exc) or "unsigned" in str(exc) else MalformedMessage
            self._refuse(error(f"{topic}: {exc}"))
            return [self._ack(need_full=self.wants_frame)]
        if max(header.epoch, header.sequence) > now + codec.AHEAD:  # never believed: it would silence the service
            self._refuse(Unauthentic(f"{topic}: epoch {header.epoch} / sequence {header.sequence} more than a day "
                                     f"ahead of this pillar's clock ({now})"))
            return [self._ack(need_full=self.wants_frame)]
        if header.epoch < self.epoch or header.valid_until < now:
            self._event(PillarEvent.LATE)
            return []  # from an instance that no longer owns the display, or no longer valid
        body = self._assembled(header, payload[codec.HEADER.size :])
        if body is None:
            return []  # more chunks to come
        if header.content_hash == self.hash and self.raster is not None:
            self._show(header, self.raster)  # already on screen (e.g. a delta and a full frame crossed): validity only
            return [self._ack()]
        if header.kind == KIND_FULL and (header.epoch, header.sequence) < (self.epoch, self.sequence):
            self._event(PillarEvent.LATE)
            return []  # an older frame arriving late
        try:
            raster = self._decoded(topic, header, body)
            if codec.frame_hash(raster, header.color_mode) != header.content_hash:
                raise HashMismatch(f"{topic}: content hash mismatch (header says {hex_hash(header.content_hash)})")
        except RemoteProtocolError as exc:
            self._refuse(exc)
            # showing a frame: a delta for another base is answered by one from the frame it shows; one it cannot
            # decode or verify by the whole frame, which it asks for
            return [self._ack(need_full=self.wants_frame or not isinstance(exc, BaseMismatch))]
        self._show(header, raster)
        return [self._ack()]

    def _scroll(self, payload: bytes, now: float) -> None:
        """Take a ticker (an empty payload ends it; a malformed one is refused and the old one kept)."""
        if not payload:
            self.ticker = None
            return
        try:
            ticker = parse_ticker(payload)
        except TickerError as exc:
            self._refuse(MalformedMessage(f"ticker: {exc}"))
            return
        if self.ticker is None or ticker.text_hash != self.ticker.text_hash:
            self.ticker, self.ticker_since = ticker, now

    def _foresee(self, payload: bytes) -> None:
        """Take a forecast (an empty payload clears it; one that does not parse, or from an earlier owner, is
        refused and the one held is kept)."""
        if not payload:
            self.forecast, self._predicted = None, None
            return
        if self.key:  # forecasts are not signed: a pillar whose frames are takes none (docs/mqtt.md, S-7)
            return
        try:
            forecast = parse_forecast(payload)
        except ForecastError as exc:
            self._refuse(MalformedMessage(f"next: {exc}"))
            return
        if forecast.epoch >= self.epoch:
            self.forecast, self._predicted = forecast, None

    def predicted(self, now: int) -> tuple[np.ndarray, str] | None:
        """What it shows at `now` when its own frame has run out: the forecast's step for `now`, for at most
        the forecast's horizon after its last frame ran out (or after the forecast's first step); None when no
        step applies (it then shows "no current data")."""
        forecast = self.forecast
        if forecast is None or self.is_current(now) or forecast.epoch < self.epoch or not forecast.steps:
            return None
        if now > max(self.valid_until, forecast.steps[0][0]) + 60 * forecast.horizon_minutes:
            return None
        index = forecast.index_at(now)
        if index is None:
            return None
        if self._predicted is None or self._predicted[0] != index:
            try:
                raster, mode = forecast.frame_at(index)
            except ForecastError as exc:
                self.forecast = None
                self._refuse(MalformedMessage(f"next: {exc}"))
                return None
            self._predicted = (index, raster, mode)
        return self._predicted[1], self._predicted[2]

    def _learn(self, payload: bytes) -> None:
        """The stop's name and UTC offset from the board JSON (anything unreadable is ignored: it only titles
        the fallback screen)."""
        try:
            doc = json.loads(payload)
            name, clock, at = (
                str(doc.get("stop_name", ""))[:200],
                str(doc.get("clock_text", "")),
                int(doc.get("generated_at", 0)),
            )
            local = int(clock[:2]) * 60 + int(clock[3:5])
        except (ValueError, TypeError, AttributeError, IndexError):
            return
        self.stop_name = name
        utc = (at // 60) % 1440
        self.utc_offset = (local - utc + 720) % 1440 - 720  # within +-12 h

    def _refuse(self, error: RemoteProtocolError) -> None:
        self.last_error = error
        self.refused += 1
        self._event(PillarEvent.REFUSED)

    def _assembled(self, header: codec.Header, body: bytes) -> bytes | None:
        """The whole body once every chunk of the message arrived (None while some are missing)."""
        if header.chunks <= 1:
            return body
        key = (header.kind, header.epoch, header.sequence, header.content_hash, header.base_hash)
        parts = self._chunks.setdefault(key, {})
        parts[header.chunk] = body
        if len(parts) < header.chunks:
            return None
        self._chunks = {k: v for k, v in self._chunks.items() if k[1:3] > key[1:3]}  # older incomplete sets go
        return b"".join(parts[i] for i in range(header.chunks))

    def _decoded(self, topic: str, header: codec.Header, body: bytes) -> np.ndarray:
        """The raster a full frame or a delta makes; RemoteProtocolError when it cannot be used."""
        try:
            data = codec.decode_body(header, body)
            if header.kind == KIND_FULL:
                return codec.unpack(data, header.encoding, header.width, header.height, header.color_mode)
            if (
                self.raster is None
                or self.hash != header.base_hash
                or self.raster.shape != (header.height, header.width)
            ):
                shown = hex_hash(self.hash) if self.hash is not None else "nothing"
                raise BaseMismatch(f"{topic}: delta for base {hex_hash(header.base_hash)}, showing {shown}")
            return codec.apply_delta(self.raster, data, header.encoding, header.color_mode)
        except CodecError as exc:
            raise MalformedMessage(f"{topic}: {exc}") from None

    def _show(self, header: codec.Header, raster: np.ndarray) -> None:
        same = header.content_hash == self.hash
        self.raster, self.hash, self.color_mode = raster, header.content_hash, header.color_mode
        self.valid_until = max(self.valid_until, header.valid_until) if same else header.valid_until
        self.epoch, self.sequence = max((self.epoch, self.sequence), (header.epoch, header.sequence))
        if not same:
            self.full_refresh = bool(header.flags & FLAG_FULL_REFRESH)
            self.applied += 1
        self._event(PillarEvent.VERIFIED)
