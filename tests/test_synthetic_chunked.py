"""Chunked generation (issue #19): a world written to Parquet a chunk of victims at a time.

The known answer is :func:`idjourney.synthetic.generate` itself: the files read back must
equal its tables exactly (``assert_frame_equal``, default exactness), whatever the chunk
size, because every row depends on its own victim's draws only and the draws are made once
for the whole world in the same order.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from idjourney.schema import validate
from idjourney.synthetic import generate, generate_to_parquet, load_scenario

N = 5_000


@pytest.fixture(scope="module", params=["four_databases", "duplicates"])
def world(request):
    return request.param, generate(load_scenario(request.param), seed=11, n_victims=N)


@pytest.mark.parametrize("chunk", [997, 2_048, N, 3 * N])
def test_chunked_files_equal_the_in_memory_world_for_every_chunk_size(tmp_path, world, chunk):
    name, expected = world
    paths = generate_to_parquet(
        load_scenario(name), 11, tmp_path / "w", n_victims=N, chunk_victims=chunk
    )
    pd.testing.assert_frame_equal(pd.read_parquet(paths["records.parquet"]), expected.records)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["truth.parquet"]), expected.truth)
    pd.testing.assert_frame_equal(
        pd.read_parquet(paths["jurisdictions.parquet"]), expected.jurisdictions
    )
    assert json.loads(paths["truth_parameters.json"].read_text()) == json.loads(
        json.dumps(expected.parameters, default=str)
    )
    meta = pq.read_schema(paths["records.parquet"]).metadata
    assert meta[b"idjourney.synthetic"] == b"true"
    # one row group per database and chunk that holds records
    groups = pq.ParquetFile(paths["records.parquet"]).metadata.num_row_groups
    n_chunks = -(-N // chunk)
    databases = len(expected.records["source_db"].unique())
    assert databases <= groups <= (databases + 1) * n_chunks
    if chunk < N:
        assert groups > databases


def test_same_seed_and_chunk_size_give_the_same_bytes(tmp_path):
    spec = load_scenario("four_databases")
    digests = []
    for name in ("a", "b"):
        paths = generate_to_parquet(spec, 4, tmp_path / name, n_victims=3_000, chunk_victims=700)
        digests.append({k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()})
    assert digests[0] == digests[1]
    other = generate_to_parquet(spec, 5, tmp_path / "c", n_victims=3_000, chunk_victims=700)
    assert (
        hashlib.sha256(other["records.parquet"].read_bytes()).hexdigest()
        != digests[0]["records.parquet"]
    )


def test_structure_seed_and_no_truth(tmp_path):
    spec = load_scenario("baseline")
    paths = generate_to_parquet(
        spec, 3, tmp_path / "w", n_victims=2_000, structure_seed=8, chunk_victims=600, truth=False
    )
    assert "truth.parquet" not in paths and not (tmp_path / "w" / "truth.parquet").exists()
    expected = generate(spec, 3, n_victims=2_000, structure_seed=8)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["records.parquet"]), expected.records)
    assert validate(paths["records.parquet"]).ok
    with pytest.raises(ValueError, match="chunk_victims"):
        generate_to_parquet(spec, 3, tmp_path / "x", n_victims=10, chunk_victims=0)


def test_the_records_file_is_a_partitioned_dataset_one_part_per_row_group(tmp_path):
    import dask

    from idjourney import partitioned
    from idjourney.linkage import link

    spec = load_scenario("four_databases")
    paths = generate_to_parquet(spec, 2, tmp_path / "w", n_victims=3_000, chunk_victims=1_000)
    records = generate(spec, 2, n_victims=3_000).records
    data = partitioned.read_dataset(paths["records.parquet"])
    assert data.npartitions == pq.ParquetFile(paths["records.parquet"]).num_row_groups > 4
    with dask.config.set(scheduler="synchronous"):
        got = partitioned.link_dataset(data)
    expected = link(records)
    pd.testing.assert_frame_equal(got.table, expected.table)
    pd.testing.assert_frame_equal(got.histories, expected.histories)
