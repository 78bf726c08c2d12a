"""Write ``src/resnetlab/assets/cards.json``: the measured card of every registered model.

Run after adding or changing a variant: ``python scripts/make_cards.py``. ``tests/test_cards.py``
fails until the stored cards match a fresh measurement.
"""

from __future__ import annotations

import json
from pathlib import Path

from resnetlab.analysis.cards import measure_card
from resnetlab.models.registry import list_models

OUT = Path(__file__).resolve().parents[1] / "src" / "resnetlab" / "assets" / "cards.json"

if __name__ == "__main__":
    cards = [measure_card(name).to_dict() for name in list_models()]
    OUT.write_text(json.dumps(cards, indent=1) + "\n")
    print(f"wrote {len(cards)} cards to {OUT}")
