"""``python -m idjourney.simstudy run|summarize ...`` (same as ``idjourney simstudy``)."""

from idjourney.cli.simstudy import simstudy

if __name__ == "__main__":
    simstudy(prog_name="python -m idjourney.simstudy")
