"""The "My finds" tab: life list, a map of the player's finds, every record with its state (queue and
server), and one record's page: edit its label, notes or licence, or withdraw it."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from mobile.history import Entry, History, life_list, when_text
from mobile.identify import display_name
from mobile.observation_view import plural
from mobile.offline_queue import ACCEPTED, REJECTED
from mobile.ui.common import DawnScreen, app, message_of
from mobile.ui.species_card import card_for


def history() -> History:
    c = app().client
    return History(c.api, c.queue)


class QueueScreen(DawnScreen):
    """My finds: the species count, the life list, the finds on a map, and every record's state."""

    rows = ListProperty([])
    summary = StringProperty("")
    life_text = StringProperty("")
    empty_text = StringProperty("")
    entries = ListProperty([])

    def refresh(self) -> None:
        c = app().client
        self.show(*history().entries(False))  # the phone's part at once
        if c.online:
            app().run_bg(lambda: history().entries(True), lambda en: self.show(*en),
                         lambda e: setattr(self, "message", message_of(e)))

    def show(self, entries: list[Entry], note: str = "") -> None:
        pack = app().client.models.species_pack()
        self.entries = entries
        self.rows = [{"title": f"{display_name(e.label, pack)}", "when": when_text(e.created_at),
                      "status": e.state_text, "key": e.key, "screen": self,
                      "colour": "ok" if e.state == ACCEPTED else "reject" if e.state == REJECTED else "warn"}
                     for e in entries[:200]]
        lives = life_list(entries)
        counts = app().client.queue.counts()
        waiting = counts.get("waiting", 0) + counts.get("uploading", 0)
        self.summary = (f"{plural(len(lives), 'species', 'species')} · {plural(len(entries), 'recording')}"
                        + (f" · {waiting} waiting to upload" if waiting else ""))
        self.life_text = ", ".join(f"{display_name(lab, pack)}" + (f" ×{n}" if n > 1 else "") for lab, n in lives) \
            or "Your life list fills up as your recordings are accepted."
        self.empty_text = "" if entries else "No recordings yet. Record a bird and it shows up here."
        m = self.ids.finds_map.map
        m.points = [{"id": e.key, "lat": float(e.lat), "lng": float(e.lng), "own": True,
                     "species": display_name(e.label, pack)}
                    for e in entries if isinstance(e.lat, (int, float)) and isinstance(e.lng, (int, float))]
        if m.points:
            m.fit([(p["lat"], p["lng"]) for p in m.points], max_zoom=14)
        if note:
            self.message = note

    def open(self, key: str) -> None:
        entry = next((e for e in self.entries if e.key == key), None)
        if entry is not None:
            detail = app().root.ids.sm.get_screen("record_detail")
            detail.entry = None
            detail.entry = entry
            app().root.go("record_detail")

    def on_kv_post(self, base_widget):
        self.ids.finds_map.map.bind(on_pick=lambda _m, point: self.open(point["id"]))

    def sync(self) -> None:
        c = app().client

        def done(result):
            self.message = result.message or (f"Uploaded {plural(len(result.sent), 'recording')}." if result.sent
                                              else "Nothing to upload.")
            if result.auth_required:
                app().root.go("login")
            self.refresh()

        app().run_bg(c.sync, done, lambda e: setattr(self, "message", message_of(e)))


class RecordDetailScreen(DawnScreen):
    """One record: its species card, state and place; change its label or notes, or withdraw it."""

    entry = ObjectProperty(None, allownone=True)
    title = StringProperty("")
    state_text = StringProperty("")
    card_source = ObjectProperty(None, allownone=True)  # picture path or sonogram texture
    card_credit = StringProperty("")
    can_edit = BooleanProperty(False)
    can_relabel = BooleanProperty(False)
    can_set_licence = BooleanProperty(False)
    choice = StringProperty("")
    confirm_withdraw = BooleanProperty(False)

    def on_entry(self, _inst, e: Entry | None) -> None:
        """A record was opened: fill the page (the form starts from the record's own label and notes)."""
        if e is None:
            return
        c = app().client
        pack = c.models.species_pack()
        self.title = display_name(e.label, pack)
        self.choice = e.label
        self.state_text = f"{e.state_text}\n{when_text(e.created_at)}" + (
            f"\nGrade: {e.grade.replace('_', ' ')}" if e.grade else "") + (
            "" if e.on_phone else "\nRecorded on another device.")
        self.can_edit = e.editable_here or e.uploaded
        self.can_relabel = e.label_editable
        self.can_set_licence = e.licence_editable
        self.ids.licence.licence = e.licence
        self.confirm_withdraw = False
        self.ids.notes.text = e.notes
        self.ids.picker.values = [name for _lab, name in c.species_choices()]
        self.ids.picker.text = self.title
        self.card_source, self.card_credit = card_for(e.label, pack, c.data_dir, self._audio(e))
        self.message = ("" if self.can_relabel else "Checked by the server: the species is now the analysis' and "
                        "the community's; your notes can still change.") if self.can_edit else \
            "This record is being uploaded; edit it when it is through."

    @staticmethod
    def _audio(e: Entry):
        """The take's samples when it is on this phone (for its sonogram), else None."""
        c = app().client
        item = c.queue.get(e.key) if e.on_phone else None
        if item is None:
            return None
        try:
            from mobile.soundscape import decode_clip

            return decode_clip(c.queue.audio(item))
        except Exception:  # noqa: BLE001 - unreadable audio: the card falls back
            return None

    def pick_name(self, name: str) -> None:
        for lab, disp in app().client.species_choices():
            if disp == name:
                self.choice = lab

    def save(self) -> None:
        e = self.entry
        notes = self.ids.notes.text.strip()[:500]

        def done(_):
            self.message = "Saved."
            app().say("Your changes are saved.")
            app().root.go("queue")

        licence = self.ids.licence.licence
        app().run_bg(lambda: history().edit(e, self.choice, notes, licence), done,
                     lambda exc: setattr(self, "message", message_of(exc)))

    def withdraw(self) -> None:
        """First tap asks; the second withdraws (from the server when uploaded, and from the queue)."""
        if not self.confirm_withdraw:
            self.confirm_withdraw = True
            self.message = "Withdraw this record? It leaves your history" + (
                " and the map" if self.entry.uploaded else " and will not be uploaded") + ". Tap Withdraw again."
            return
        e = self.entry

        def done(_):
            app().say("The record is withdrawn.", "info")
            app().refresh_status()
            app().root.go("queue")

        app().run_bg(lambda: history().withdraw(e), done, lambda exc: setattr(self, "message", message_of(exc)))


