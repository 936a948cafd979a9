"""The demo project offered on first start: sentences written for nerstudio (no third-party
data), with PER / ORG / LOC / MISC, half of them labelled so a newcomer can click and train."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

from ..core.domain import Sentence
from ..core.iob import tags_to_spans
from ..core.store import ProjectStore

# word/TAG tokens; bare words are O.
LABELLED = """
Maria/B-PER Alvarez/I-PER joined/O Northwind/B-ORG Labs/I-ORG in/O Lisbon/B-LOC last/O spring/O ./O
The/O Danube/B-LOC flows/O through/O Vienna/B-LOC and/O Budapest/B-LOC ./O
Kenji/B-PER Watanabe/I-PER won/O the/O Osaka/B-MISC Marathon/I-MISC on/O Sunday/O ./O
Bluefin/B-ORG Robotics/I-ORG opened/O an/O office/O in/O Nairobi/B-LOC ./O
Priya/B-PER Raman/I-PER spoke/O English/B-MISC and/O Tamil/B-MISC at/O the/O summit/O ./O
The/O Riverside/B-ORG Hospital/I-ORG hired/O Tomas/B-PER Novak/I-PER as/O director/O ./O
Fans/O of/O the/O Harbor/B-ORG City/I-ORG Gulls/I-ORG celebrated/O in/O Oslo/B-LOC ./O
Elena/B-PER Petrova/I-PER flew/O from/O Sofia/B-LOC to/O Montreal/B-LOC ./O
The/O Andean/B-MISC festival/O drew/O crowds/O to/O Cusco/B-LOC ./O
Greenleaf/B-ORG Bank/I-ORG reported/O record/O profits/O ,/O said/O Omar/B-PER Haddad/I-PER ./O
Lucas/B-PER Moreau/I-PER studied/O at/O the/O University/B-ORG of/I-ORG Lyon/I-ORG ./O
A/O Brazilian/B-MISC startup/O ,/O Solaria/B-ORG ,/O raised/O funds/O in/O Recife/B-LOC ./O
Aiko/B-PER Tanaka/I-PER and/O Ben/B-PER Carter/I-PER met/O in/O Kyoto/B-LOC ./O
The/O Nordic/B-MISC Film/I-MISC Awards/I-MISC were/O held/O in/O Helsinki/B-LOC ./O
Quartz/B-ORG Mobile/I-ORG cut/O prices/O across/O Mexico/B-LOC ./O
Sofia/B-PER Lindqvist/I-PER leads/O the/O Baltic/B-ORG Shipping/I-ORG Union/I-ORG ./O
Heavy/O rain/O closed/O roads/O near/O Galway/B-LOC on/O Monday/O ./O
Daniel/B-PER Okafor/I-PER scored/O twice/O for/O Lagos/B-ORG United/I-ORG ./O
The/O French/B-MISC chef/O Claire/B-PER Dubois/I-PER opened/O a/O bistro/O in/O Quebec/B-LOC ./O
Copperline/B-ORG Media/I-ORG bought/O a/O radio/O station/O in/O Perth/B-LOC ./O
"""

UNLABELLED = """
Hannah Schultz became mayor of Leipzig after a close race .
Redwood Analytics signed a deal with the city of Porto .
The Korean delegation arrived in Geneva for the talks .
Ahmed Karim teaches history at the University of Tunis .
Snow fell on Zagreb while Luca Bianchi gave his speech .
Starling Air will fly from Dublin to Reykjavik next year .
Isabel Costa and Marco Rossi founded Verde Foods in Milan .
The Olympic torch passed through Athens and Thessaloniki .
Nina Kowalski covers Polish politics for the Warsaw Herald .
Tidewater Energy plans a wind farm off the coast of Maine .
Carlos Mendes coached the Porto Lions to a third title .
The Scottish poet Fiona Grant read at a library in Glasgow .
Orchid Pharma moved its headquarters from Pune to Singapore .
Jonas Berg signed with Stockholm City for two seasons .
The Canadian team trained in Calgary before the games .
Amara Diallo runs a clinic for Doctors Abroad in Dakar .
Pinecrest Motors recalled cars sold in Germany and Austria .
The Venice Biennale opened with work by Yuki Mori .
Samuel Osei met officials of the African Union in Addis Ababa .
Harbor Light Books published a novel by Ines Navarro .
"""


def _labelled(line: str, split: str) -> Sentence:
    words, tags = zip(*(tok.rsplit("/", 1) for tok in line.split()))
    return Sentence.from_words(list(words), spans=tags_to_spans(list(tags)), split=split,
                               status="labelled")


def demo_sentences() -> list[Sentence]:
    lines = [l for l in LABELLED.strip().splitlines() if l.strip()]
    out = [_labelled(l, "dev" if i % 5 == 4 else "train") for i, l in enumerate(lines)]
    out += [Sentence.from_words(l.split(), split="train")
            for l in UNLABELLED.strip().splitlines() if l.strip()]
    return out


def create_demo_project(path: str | Path) -> Path:
    path = Path(path)
    with ProjectStore.create(path, "nerstudio demo", ["PER", "ORG", "LOC", "MISC"]) as store:
        store.import_items(demo_sentences(), source="demo")
    return path


# -- where the demo lives (app.py and the window's Open demo project) --------------------------
def data_dir() -> Path:
    """nerstudio's folder in the platform's application-data location: ~/.local/share/nerstudio
    on Linux (or $XDG_DATA_HOME/nerstudio), ~/Library/Application Support/nerstudio on macOS,
    %LOCALAPPDATA%/nerstudio on Windows. Qt's AppDataLocation appends organisation *and*
    application name (nerstudio/nerstudio), so the generic location plus one "nerstudio" is used."""
    path = data_location()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_location() -> Path:
    """:func:`data_dir` without creating it."""
    base = QStandardPaths.writableLocation(QStandardPaths.GenericDataLocation)
    return Path(base) / "nerstudio" if base else Path.home() / ".local" / "share" / "nerstudio"


def demo_path() -> Path:
    """Where the demo project lives (created on first use)."""
    return data_dir() / "demo.nerproj"
