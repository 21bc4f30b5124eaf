"""Reuters-21578 newswire topics (multi-class), parsed from the raw SGML distribution.

ModApte split (LEWISSPLIT TRAIN/TEST with TOPICS="YES": 9,603 / 3,299 stories), keeping stories
with exactly one topic, and topics with at least `data.min_class_count` training stories and
at least one test story (min_class_count 10 gives 35 topics; 5 gives 43; Keras's setup has 46).
`data.reuters_cut: keras` instead rebuilds the cut of Keras' `reuters.npz` from the raw corpus:
every story with at least one topic (any LEWISSPLIT), labelled by its first topic, topics with at
least 15 such stories: 11,228 stories in 46 topics, Keras' own counts. The split is then a seeded,
stratified `data.test_fraction` (0.2: 8,982 / 2,246, Keras' sizes); Keras shuffled with its seed.
The SGML holds a few non-UTF-8 bytes; the files are read as latin-1, which maps every byte.
"""
from __future__ import annotations

import hashlib
import html
import re
import tarfile
from pathlib import Path

from rnnops.errors import DataError
from rnnops.data.sources import RawDataset
from rnnops.data.sources.download import fetch
from rnnops.data.files import existing
from rnnops.data.sources.labels import to_frame

URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/reuters21578-mld/reuters21578.tar.gz"
SGM = re.compile(r"reut2-(\d{3})\.sgm$")
STORY = re.compile(r"<REUTERS([^>]*)>(.*?)</REUTERS>", re.S)
ATTR = re.compile(r'(\w+)="([^"]*)"')
FIELD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S) for name in ("TOPICS", "TITLE", "BODY")}
TOPIC = re.compile(r"<D>(.*?)</D>")
SPLITS = {"TRAIN": "train", "TEST": "test"}


def load(params) -> RawDataset:
    if params.path is None:
        # UCI publishes no checksum for the tarball; parse_files checks the story count instead.
        path = fetch(URL, params.cache_dir, "reuters21578.tar.gz", None)
    else:
        path = existing(params.path, "Reuters-21578 (reuters21578.tar.gz or its folder)")
    files, digest = _read_sgm_files(path)
    stories = [story for name in sorted(files) for story in parse_sgm(files[name])]
    if len(stories) != 21578:
        raise DataError(f"{path}: found {len(stories)} stories in {len(files)} reut2-*.sgm files, "
                        "expected 21,578. Fix: use the complete Distribution 1.0 archive.")
    if getattr(params, "reuters_cut", "modapte") == "keras":
        return _keras_cut(stories, digest, path)
    rows = [s for s in stories if s["split"] and s["topics_attr"] == "YES" and len(s["topics"]) == 1]
    counts = {"train": {}, "test": {}}
    for row in rows:
        split_counts = counts[row["split"]]
        split_counts[row["topics"][0]] = split_counts.get(row["topics"][0], 0) + 1
    # A topic the test split never has cannot be evaluated, so it needs one test story too.
    kept = sorted(t for t, n in counts["train"].items()
                  if n >= params.min_class_count and counts["test"].get(t, 0) >= 1)
    keep = [r for r in rows if r["topics"][0] in kept]
    frame = to_frame([r["text"] for r in keep], [r["topics"][0] for r in keep], [r["split"] for r in keep])
    dropped = {"multi_or_no_topic": sum(1 for s in stories if s["split"] and s["topics_attr"] == "YES"
                                        and len(s["topics"]) != 1),
               "rare_class": len(rows) - len(keep)}
    return RawDataset("reuters", frame, kept, digest, str(path), dropped)


KERAS_MIN_STORIES = 15  # Keras' reuters.npz: 14, 15 and 16 all give its 46 topics and 11,228 stories


def _keras_cut(stories: list[dict], digest: str, path: Path) -> RawDataset:
    """Keras' 46-topic cut: first topic of every story that has one, topics with >= 15 stories."""
    rows = [s for s in stories if s["topics"]]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["topics"][0]] = counts.get(row["topics"][0], 0) + 1
    kept = sorted(t for t, n in counts.items() if n >= KERAS_MIN_STORIES)
    keep = [r for r in rows if r["topics"][0] in kept]
    frame = to_frame([r["text"] for r in keep], [r["topics"][0] for r in keep], None)  # split by seed
    dropped = {"no_topic": len(stories) - len(rows), "rare_class": len(rows) - len(keep)}
    return RawDataset("reuters", frame, kept, digest, str(path), dropped)


def parse_sgm(text: str) -> list[dict]:
    """Stories of one reut2-NNN.sgm file: split (ModApte), topics, title + body text."""
    stories = []
    for attrs, body in STORY.findall(text):
        attr = dict(ATTR.findall(attrs))
        fields = {k: (m[1] if (m := rx.search(body)) else "") for k, rx in FIELD.items()}
        title, text_body = (html.unescape(fields[k]).strip() for k in ("TITLE", "BODY"))
        stories.append({
            "split": SPLITS.get(attr.get("LEWISSPLIT", "")),
            "topics_attr": attr.get("TOPICS", ""),
            "topics": TOPIC.findall(fields["TOPICS"]),
            "text": f"{title}\n{text_body}".strip(),
        })
    return stories


def _read_sgm_files(path: Path) -> tuple[dict[str, str], str]:
    raw: dict[str, bytes] = {}
    if path.is_dir():
        for file in sorted(path.rglob("reut2-*.sgm")):
            raw[file.name] = file.read_bytes()
    else:
        try:
            with tarfile.open(path, "r|*") as archive:
                for member in archive:
                    if SGM.search(member.name) and member.isfile():
                        raw[Path(member.name).name] = archive.extractfile(member).read()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{path}: truncated or corrupt archive ({exc}). "
                            "Fix: download it again or set data.path to a good copy.") from None
    if not raw:
        raise DataError(f"{path}: no reut2-*.sgm files found. Fix: point data.path at "
                        "reuters21578.tar.gz or the folder that holds the .sgm files.")
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(name.encode() + b"\0" + hashlib.sha256(raw[name]).digest())
    return {name: data.decode("latin-1") for name, data in raw.items()}, digest.hexdigest()
