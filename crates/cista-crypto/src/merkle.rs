//! The Merkle tree of the audit log, hashed exactly as RFC 6962 §2.1 / RFC 9162 §2.1 define it:
//! leaves are `SHA-256(0x00 || data)`, inner nodes `SHA-256(0x01 || left || right)`, and a tree
//! of `n` leaves splits at the largest power of two below `n`. Inclusion and consistency proofs
//! and their verification follow RFC 9162 §2.1.3 and §2.1.4 step by step.

use crate::Digest32;

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of one leaf's data.
pub fn leaf_hash(data: &[u8]) -> Digest32 {
    Digest32::sha256(&[&[LEAF_PREFIX], data])
}

/// The hash of an inner node from its two children.
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    Digest32::sha256(&[&[NODE_PREFIX], left.as_bytes(), right.as_bytes()])
}

/// The hash of an empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Digest32 {
    Digest32::sha256(&[])
}

/// The largest power of two strictly smaller than `n` (for `n >= 2`).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over already-hashed leaves.
pub fn root(leaves: &[Digest32]) -> Digest32 {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let (left, right) = leaves.split_at(split_point(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// Leaves below which [`root_on_threads`] hashes on the calling thread alone: a thread costs
/// tens of microseconds, a few thousand inner nodes about as much.
const LEAVES_PER_THREAD_MIN: usize = 8_192;

/// [`root`], with the subtrees under the tree's top levels hashed on up to `threads` threads
/// at once (scoped threads, joined before it returns): the close of a million-ballot box
/// hashes a million inner nodes. The same root as `root` for every input; a panic on one of
/// the threads is resumed on the caller's.
pub fn root_on_threads(leaves: &[Digest32], threads: usize) -> Digest32 {
    if threads < 2 || leaves.len() < 2 * LEAVES_PER_THREAD_MIN {
        return root(leaves);
    }
    let (left, right) = leaves.split_at(split_point(leaves.len()));
    let for_right = threads / 2;
    let (left, right) = std::thread::scope(|scope| {
        let left = scope.spawn(|| root_on_threads(left, threads - for_right));
        let right = root_on_threads(right, for_right);
        (left.join(), right)
    });
    node_hash(
        &left.unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        &right,
    )
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is outside a tree of {size} leaves")]
    OutOfRange { index: u64, size: u64 },
    #[error("the proof does not lead to the expected root")]
    Mismatch,
    #[error("the proof has the wrong length")]
    WrongLength,
}

/// PATH(m, D[n]): the audit path proving leaf `index` is in the tree of `leaves`.
pub fn inclusion_proof(leaves: &[Digest32], index: usize) -> Result<Vec<Digest32>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::OutOfRange {
            index: index as u64,
            size: leaves.len() as u64,
        });
    }
    let mut path = Vec::new();
    path_into(leaves, index, &mut path);
    Ok(path)
}

/// The inclusion proof of every leaf at once, in O(n log n) rather than n separate proofs:
/// `proofs[i]` equals `inclusion_proof(leaves, i)`. Also returns the root.
pub fn all_inclusion_proofs(leaves: &[Digest32]) -> (Digest32, Vec<Vec<Digest32>>) {
    fn walk(leaves: &[Digest32]) -> (Digest32, Vec<Vec<Digest32>>) {
        match leaves {
            [] => (empty_root(), Vec::new()),
            [one] => (*one, vec![Vec::new()]),
            _ => {
                let k = split_point(leaves.len());
                let (left, right) = leaves.split_at(k);
                let (left_root, mut left_proofs) = walk(left);
                let (right_root, mut right_proofs) = walk(right);
                for p in &mut left_proofs {
                    p.push(right_root);
                }
                for p in &mut right_proofs {
                    p.push(left_root);
                }
                left_proofs.append(&mut right_proofs);
                (node_hash(&left_root, &right_root), left_proofs)
            }
        }
    }
    walk(leaves)
}

fn path_into(leaves: &[Digest32], index: usize, out: &mut Vec<Digest32>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if index < k {
        path_into(left, index, out);
        out.push(root(right));
    } else {
        path_into(right, index - k, out);
        out.push(root(left));
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Digest32,
    index: u64,
    size: u64,
    path: &[Digest32],
    expected_root: &Digest32,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *expected_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// PROOF(m, D[n]): proves the tree of the first `old_size` leaves is a prefix of `leaves`.
pub fn consistency_proof(
    leaves: &[Digest32],
    old_size: usize,
) -> Result<Vec<Digest32>, ProofError> {
    if old_size > leaves.len() {
        return Err(ProofError::OutOfRange {
            index: old_size as u64,
            size: leaves.len() as u64,
        });
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        subproof_into(old_size, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof_into(m: usize, leaves: &[Digest32], complete: bool, out: &mut Vec<Digest32>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof_into(m, left, complete, out);
        out.push(root(right));
    } else {
        subproof_into(m - k, right, false, out);
        out.push(root(left));
    }
}

/// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest32,
    new_root: &Digest32,
    proof: &[Digest32],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OutOfRange {
            index: old_size,
            size: new_size,
        });
    }
    if old_size == new_size {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if old_size == 0 {
        // The empty tree is a prefix of every tree; there is nothing to prove.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let mut path: Vec<Digest32> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (first, rest) = path.split_first().ok_or(ProofError::WrongLength)?;
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of its perfect subtrees, left to right (one per
/// set bit of the size). Appending is O(log n) and the root is always at hand, so the store can
/// keep this beside the log and extend it inside the same transaction as each new entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Digest32>,
}

impl CompactRange {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a range from stored parts, refusing parts that cannot belong together.
    pub fn from_parts(size: u64, hashes: Vec<Digest32>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Self { size, hashes })
    }

    /// Rebuilds a range from the concatenated 32-byte hashes stored in the database.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(32) {
            return None;
        }
        let hashes = bytes
            .chunks_exact(32)
            .filter_map(Digest32::from_slice)
            .collect();
        Self::from_parts(size, hashes)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|h| h.0).collect()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn append(&mut self, leaf: Digest32) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            match self.hashes.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => break,
            }
            size >>= 1;
        }
        self.hashes.push(carry);
        self.size += 1;
    }

    pub fn root(&self) -> Digest32 {
        let mut iter = self.hashes.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashing on threads gives `root`'s root for trees at and around the size where it
    /// starts to split (every split point below the top is then uneven), with any number of
    /// threads, including odd ones.
    #[test]
    fn the_root_on_threads_is_the_root() {
        let leaves: Vec<Digest32> = (0u32..70_003)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let edge = 2 * LEAVES_PER_THREAD_MIN;
        for n in [
            0,
            1,
            2,
            edge - 1,
            edge,
            edge + 1,
            3 * edge + 5,
            leaves.len(),
        ] {
            let expected = root(&leaves[..n]);
            for threads in [0, 1, 2, 3, 4, 7] {
                assert_eq!(
                    root_on_threads(&leaves[..n], threads),
                    expected,
                    "{n} leaves on {threads} threads"
                );
            }
        }
    }

    /// The eight leaves of the reference tree used by Certificate Transparency's test suites.
    fn reference_leaves() -> Vec<Digest32> {
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        inputs.iter().map(|d| leaf_hash(d)).collect()
    }

    const REFERENCE_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_rfc6962_reference_tree() {
        let leaves = reference_leaves();
        for (n, expected) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..=n]).to_hex(), *expected, "size {}", n + 1);
        }
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_compact_range_agrees_with_the_full_tree_at_every_size() {
        let leaves = reference_leaves();
        let mut range = CompactRange::new();
        assert_eq!(range.root(), empty_root());
        for (n, leaf) in leaves.iter().enumerate() {
            range.append(*leaf);
            assert_eq!(range.root().to_hex(), REFERENCE_ROOTS[n]);
            let stored = CompactRange::from_bytes(range.size(), &range.to_bytes()).unwrap();
            assert_eq!(stored, range);
        }
        assert!(CompactRange::from_bytes(3, &[0u8; 32]).is_none());
    }

    #[test]
    fn the_reference_inclusion_path_for_leaf_zero_of_eight() {
        let path = inclusion_proof(&reference_leaves(), 0).unwrap();
        let hex: Vec<String> = path.iter().map(Digest32::to_hex).collect();
        assert_eq!(
            hex,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
    }

    fn many_leaves(n: usize) -> Vec<Digest32> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn all_proofs_at_once_equal_each_proof_alone() {
        let leaves = many_leaves(37);
        for size in 0..=leaves.len() {
            let tree = &leaves[..size];
            let (r, proofs) = all_inclusion_proofs(tree);
            assert_eq!(r, root(tree), "size {size}");
            assert_eq!(proofs.len(), size);
            for (i, p) in proofs.iter().enumerate() {
                assert_eq!(
                    p,
                    &inclusion_proof(tree, i).unwrap(),
                    "size {size} leaf {i}"
                );
            }
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        let leaves = many_leaves(33);
        for size in 1..=leaves.len() {
            let tree = &leaves[..size];
            let tree_root = root(tree);
            for (index, leaf) in tree.iter().enumerate() {
                let path = inclusion_proof(tree, index).unwrap();
                verify_inclusion(leaf, index as u64, size as u64, &path, &tree_root).unwrap();
                let other = leaf_hash(b"not in the tree");
                assert!(
                    verify_inclusion(&other, index as u64, size as u64, &path, &tree_root).is_err()
                );
                if !path.is_empty() {
                    let short = &path[..path.len() - 1];
                    assert!(
                        verify_inclusion(
                            &leaves[index],
                            index as u64,
                            size as u64,
                            short,
                            &tree_root
                        )
                        .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_forked_history_does_not() {
        let leaves = many_leaves(33);
        for new_size in 0..=leaves.len() {
            let new_root = root(&leaves[..new_size]);
            for old_size in 0..=new_size {
                let old_root = root(&leaves[..old_size]);
                let proof = consistency_proof(&leaves[..new_size], old_size).unwrap();
                verify_consistency(
                    old_size as u64,
                    new_size as u64,
                    &old_root,
                    &new_root,
                    &proof,
                )
                .unwrap();
                if old_size > 0 && old_size < new_size {
                    let mut forked = leaves[..new_size].to_vec();
                    forked[old_size - 1] = leaf_hash(b"rewritten history");
                    let forked_root = root(&forked);
                    let forked_proof = consistency_proof(&forked, old_size).unwrap();
                    assert!(
                        verify_consistency(
                            old_size as u64,
                            new_size as u64,
                            &old_root,
                            &forked_root,
                            &forked_proof
                        )
                        .is_err(),
                        "{old_size} -> {new_size}"
                    );
                }
            }
        }
    }
}
