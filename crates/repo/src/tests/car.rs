//! CAR reader/writer tests against the atproto CAR fixture and real repository exports.

use crate::car::{CarError, CarLimits, CarSlice, write_car};
use crate::cid_util::{cid_for_cbor, parse_cid};
use crate::test_vectors::{b64, json, read};

#[test]
fn car_file_fixture_reads_and_writes_byte_identically() {
    let cases = json("peers/atproto/packages/repo/tests/car-file-fixtures.json");
    let mut ran = 0;
    for case in cases.as_array().unwrap() {
        let car = b64(case["car"].as_str().unwrap());
        let root = parse_cid(case["root"].as_str().unwrap()).unwrap();
        let slice = CarSlice::parse(&car, &CarLimits::REPO).unwrap();
        assert_eq!(slice.roots(), &[root]);
        let blocks: Vec<_> = case["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    parse_cid(b["cid"].as_str().unwrap()).unwrap(),
                    b64(b["bytes"].as_str().unwrap()),
                )
            })
            .collect();
        assert_eq!(slice.len(), blocks.len());
        for (cid, bytes) in &blocks {
            assert_eq!(slice.get(cid), Some(bytes.as_slice()));
        }
        let written = write_car(&[root], blocks.iter().map(|(c, b)| (c, b.as_slice())));
        assert_eq!(written, car);
        ran += 1;
    }
    assert_eq!(ran, 1);
}

#[test]
fn real_repo_exports_parse_with_all_blocks_hash_checked() {
    for (f, n) in [
        ("peers/indigo/testing/testdata/greenground.repo.car", 4),
        ("peers/rsky/rsky-repo/resources/test/valid_repo.car", 12),
    ] {
        let car = read(f);
        let slice = CarSlice::parse(&car, &CarLimits::REPO).unwrap();
        assert_eq!(slice.len(), n, "{f}");
        assert_eq!(slice.roots().len(), 1);
        assert!(slice.get(&slice.roots()[0]).is_some());
    }
}

#[test]
fn our_writer_agrees_with_iroh_car() {
    let car = read("peers/rsky/rsky-repo/resources/test/valid_repo.car");
    let slice = CarSlice::parse(&car, &CarLimits::REPO).unwrap();
    let written = write_car(slice.roots(), slice.blocks());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (roots, n) = rt.block_on(async {
        let mut reader = iroh_car::CarReader::new(written.as_slice()).await.unwrap();
        let roots = reader.header().roots().to_vec();
        let mut n = 0;
        while let Some((cid, bytes)) = reader.next_block().await.unwrap() {
            assert_eq!(slice.get(&cid), Some(bytes.as_slice()));
            n += 1;
        }
        (roots, n)
    });
    assert_eq!(roots, slice.roots());
    assert_eq!(n, slice.len());
}

#[test]
fn tampered_block_is_rejected() {
    let block = b"\xa1\x61a\x01".to_vec();
    let cid = cid_for_cbor(&block);
    let mut car = write_car(&[cid], [(&cid, block.as_slice())]);
    let last = car.len() - 1;
    car[last] = 0x02;
    assert!(matches!(
        CarSlice::parse(&car, &CarLimits::COMMIT),
        Err(CarError::BlockHash(_))
    ));
}

#[test]
fn duplicates_and_extra_blocks_are_tolerated() {
    let a = b"\x61a".to_vec();
    let b = b"\x61b".to_vec();
    let (ca, cb) = (cid_for_cbor(&a), cid_for_cbor(&b));
    let car = write_car(
        &[ca],
        [
            (&ca, a.as_slice()),
            (&cb, b.as_slice()),
            (&ca, a.as_slice()),
        ],
    );
    let slice = CarSlice::parse(&car, &CarLimits::COMMIT).unwrap();
    assert_eq!(slice.len(), 2);
}

#[test]
fn limits_and_truncation_are_enforced_without_panics() {
    let car = read("peers/rsky/rsky-repo/resources/test/valid_repo.car");
    let small = CarLimits {
        max_bytes: 100,
        ..CarLimits::REPO
    };
    assert_eq!(
        CarSlice::parse(&car, &small).err(),
        Some(CarError::TooLarge(100))
    );
    let few = CarLimits {
        max_blocks: 3,
        ..CarLimits::REPO
    };
    assert_eq!(
        CarSlice::parse(&car, &few).err(),
        Some(CarError::TooManyBlocks(3))
    );
    for n in 0..car.len() {
        // A cut exactly at a section boundary is a valid, shorter CAR.
        let _ = CarSlice::parse(&car[..n], &CarLimits::REPO);
    }
    assert!(CarSlice::parse(&car[..car.len() - 1], &CarLimits::REPO).is_err());
    assert!(CarSlice::parse(&[], &CarLimits::REPO).is_err());
    assert!(CarSlice::parse(&[0xff; 12], &CarLimits::REPO).is_err());
}
