"""`make mobile` (scripts/run_mobile.sh): a portrait phone-sized window by default, no bootstrap when the
machine is set up, and no tracebacks from Kivy's probes of optional back ends."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time

import pytest

from mobile.main import DEFAULT_WINDOW, QuietOptionalProbes, window_size

from .restricted_env import ROOT
from .test_ui_xvfb import display  # noqa: F401 - the private X display fixture


@pytest.mark.parametrize("value,size", [(None, (412, 915)), ("", (412, 915)), ("800x1280", (800, 1280)),
                                        (" 360 X 800 ", (360, 800)), ("huge", DEFAULT_WINDOW), ("9x9", DEFAULT_WINDOW)])
def test_window_size(value, size):
    assert window_size(value) == size


def test_optional_probe_failures_lose_their_tracebacks():
    try:
        raise OSError("libmtdev.so.1: cannot open shared object file")
    except OSError:
        import sys

        rec = logging.LogRecord("kivy", logging.ERROR, __file__, 1, "Input: MTDev is not supported by your version "
                                "of linux", (), sys.exc_info())
    assert QuietOptionalProbes().filter(rec) and rec.exc_info is None and rec.levelno == logging.INFO
    crit = logging.LogRecord("kivy", logging.CRITICAL, __file__, 1, "Cutbuffer: Unable to find any valuable Cutbuffer "
                             "provider. Please enable debug logging\nxclip - FileNotFoundError ...", (), None)
    QuietOptionalProbes().filter(crit)
    assert crit.levelno == logging.INFO and "\n" not in crit.getMessage() and "xclip" not in crit.getMessage()
    real = logging.LogRecord("kivy", logging.ERROR, __file__, 1, "Something real broke", (), None)
    assert QuietOptionalProbes().filter(real) and real.levelno == logging.ERROR


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
def test_make_mobile_opens_a_phone_window_quietly(display, tmp_path):  # noqa: F811
    from mobile.services.audio_out import wav_bytes
    from mobile.services.microphone import FileMicrophone

    from .conftest import WARBLER

    clip = FileMicrophone(WARBLER)
    (tmp_path / "mic.wav").write_bytes(wav_bytes(clip.samples, clip.sample_rate))
    env = {**os.environ, "DISPLAY": display, "DAWN_APP_DIR": str(tmp_path / "app"), "DAWN_AUDIO_OUT": "capture",
           "DAWN_MIC_FILE": str(tmp_path / "mic.wav"), "KIVY_HOME": str(tmp_path / "kivy")}
    env.pop("DAWN_WINDOW", None)
    proc = subprocess.Popen(["bash", str(ROOT / "scripts/run_mobile.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    geometry = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if shutil.which("xwininfo") is None:
                if time.monotonic() > deadline - 50:
                    break
                continue
            tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
            line = next((ln for ln in tree.splitlines() if '"Dawn Chorus"' in ln), "")
            if line:
                geometry = line.split(")")[-1].split()[0]
                time.sleep(1.5)   # let the first screen build (and log what it logs)
                break
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert proc.returncode is not None and "No display" not in out
    if shutil.which("xwininfo"):
        assert geometry.startswith("412x915"), out[-3000:]
    assert "[bootstrap]" not in out                      # the machine is set up: no apt, no services
    assert "Traceback" not in out and "CRITICAL" not in out, out[-3000:]
