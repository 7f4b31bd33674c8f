// Small helpers of the console: times, the confirm dialog, the audible cue, announcements.

import { escapeHtml as h } from "/static/common/api.js";

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${fmtTime(iso)}`;
}

export function fmtAge(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;
  return `${Math.floor(s / 86400)}d`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} min`;
}

// A modal confirm; resolves true when the person pressed the confirm button.
export function confirmDialog(title, bodyHtml, { okLabel = "Confirm" } = {}) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").innerHTML = bodyHtml;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// Two short tones generated in the page (no audio file): a new priority 1–2 incident.
let audio = null;
export function beep() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + i * 0.2);
      gain.gain.exponentialRampToValueAtTime(0.25, t + i * 0.2 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.2 + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + i * 0.2);
      osc.stop(t + i * 0.2 + 0.2);
    }
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  } catch {
    /* no audio device: the visual cue remains */
  }
}

export function announce(text) {
  const el = document.getElementById("announcer");
  // Each message is a new line of a live log: one that follows quickly (an acknowledgement and
  // the proposal it set off) does not replace it before a screen reader has read it, and a
  // repeated message is read again. The last few are kept.
  const line = document.createElement("p");
  line.textContent = text;
  el.append(line);
  while (el.childElementCount > 5) el.firstElementChild.remove();
}

export { h };
