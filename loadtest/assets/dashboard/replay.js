// Playing a report back as it happened: ▶ starts the run over and feeds its
// events again at their own pace — 1× is the run's real time, faster on
// request — so the room sees the numbers move and the line cross the stock
// again, after the fact. Space plays and pauses. The report opens with
// every event applied (the overview, the board complete); this is the
// other way to read it.
"use strict";

// When each event happens, in seconds from the start of the playback:
// phases one after another, each at its ticks' and faults' own times, its
// timeline and verdict half a second after its last tick, a second
// between phases.
function replaySchedule(events) {
  let offset = 0, phaseEnd = 0;
  return events.map((e) => {
    switch (e.type) {
      case "phase": offset = phaseEnd + (phaseEnd ? 1 : 0); phaseEnd = offset; return offset;
      case "tick": case "fault": phaseEnd = Math.max(phaseEnd, offset + e.t); return offset + e.t;
      case "timeline": case "verdict": case "done": phaseEnd += e.type === "timeline" ? 0.5 : 0; return phaseEnd;
      default: return phaseEnd;
    }
  });
}

const replay = { events: [], at: [], next: 0, clock: 0, timer: null, last: 0 };

function setUpReplay(events) {
  replay.events = events;
  replay.at = replaySchedule(events);
  $("replay").hidden = false;
  $("play").addEventListener("click", () => (replay.timer ? pauseReplay() : playReplay()));
  document.addEventListener("keydown", (e) => {
    if (e.key === " " && !(e.target.closest && e.target.closest("button, select"))) {
      e.preventDefault();
      replay.timer ? pauseReplay() : playReplay();
    }
  });
}

function playReplay() {
  if (replay.next >= replay.events.length) { replay.next = 0; replay.clock = 0; }
  replay.last = performance.now();
  replay.timer = setInterval(stepReplay, 50);
  $("play").textContent = t("page-pause");
  $("play").setAttribute("aria-pressed", "true");
}

function pauseReplay() {
  clearInterval(replay.timer);
  replay.timer = null;
  $("play").textContent = t("page-play");
  $("play").setAttribute("aria-pressed", "false");
}

// Applies every event whose time has come; the first starts the run over.
function stepReplay() {
  const now = performance.now();
  replay.clock += ((now - replay.last) / 1000) * Number($("speed").value);
  replay.last = now;
  while (replay.next < replay.events.length && replay.at[replay.next] <= replay.clock) {
    handle(replay.events[replay.next]);
    replay.next += 1;
  }
  if (replay.next >= replay.events.length) pauseReplay();
}
