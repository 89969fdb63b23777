//! Banks of known content: named sets of PDQ hashes, each with where they came from and what
//! to do with content that matches them (a ThreatExchange privacy group's hashes to block,
//! the frames of clips already blocked here). Hashes come from files in the format of Meta's
//! PDQ tools or from decided clips; screened clips are matched against every bank through a
//! snapshot index (`index`, `live`).

pub mod index;
mod live;

pub use index::{BankSet, MultiIndex};
pub use live::LiveBanks;

use crate::store::{vals, Db, DecisionLog, Store, StoreError};
use crate::vocab::{Action, ErrorCode, Failure, FramePdq, Pdq};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BanksError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no bank named {0:?}")]
    NotFound(String),
    #[error("a bank named {0:?} already exists")]
    Exists(String),
    #[error("invalid bank: {0}")]
    Invalid(String),
    #[error("hash file line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("cannot read the hash file: {0}")]
    Read(String),
    #[error("no decision with id {0}")]
    NoDecision(String),
}

impl Failure for BanksError {
    fn code(&self) -> ErrorCode {
        match self {
            BanksError::Store(e) => e.code(),
            BanksError::NotFound(_) | BanksError::NoDecision(_) => ErrorCode::NotFound,
            BanksError::Exists(_) => ErrorCode::Conflict,
            BanksError::Invalid(_) | BanksError::Line { .. } | BanksError::Read(_) => {
                ErrorCode::InvalidBank
            }
        }
    }
}

/// A bank to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBank {
    pub name: String,
    /// Where its hashes come from, for reviewers (a ThreatExchange privacy group, "decisions").
    pub source: String,
    /// What policies are told to do with matching content (the default policy blocks on a
    /// `block` bank's match and sends other matches to review).
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bank {
    pub name: String,
    pub source: String,
    pub action: Action,
    /// Hashes held, and the items (banked clips or images) they belong to.
    pub hashes: u64,
    pub items: u64,
    pub created_at: String,
}

/// What an import or an addition stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Added {
    pub bank: String,
    /// Hashes read, and how many of them were new to the bank (the rest were already there).
    pub read: u64,
    pub added: u64,
}

/// One banked hash: the item it belongs to, the hash and its quality.
#[derive(Debug, Clone, PartialEq)]
pub struct Banked {
    pub item: String,
    pub pdq: FramePdq,
}

#[derive(Clone)]
pub struct Banks {
    store: Arc<Store>,
}

impl Banks {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    pub fn create(&self, b: &NewBank) -> Result<Bank, BanksError> {
        let name = b.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(BanksError::Invalid(
                "the bank's name must be 1 to 100 characters".into(),
            ));
        }
        if b.source.trim().is_empty() {
            return Err(BanksError::Invalid(
                "name where the bank's hashes come from (source)".into(),
            ));
        }
        self.store.transaction(|db| {
            let inserted = db.execute(
                "INSERT INTO hash_banks (name, source, action) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO NOTHING",
                vals![name, b.source.trim(), b.action.as_str()],
            )?;
            if inserted == 0 {
                return Err(BanksError::Exists(name.to_string()));
            }
            bump(db)?;
            Ok(())
        })?;
        self.get(name)
    }

    pub fn get(&self, name: &str) -> Result<Bank, BanksError> {
        self.list()?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| BanksError::NotFound(name.to_string()))
    }

    pub fn list(&self) -> Result<Vec<Bank>, BanksError> {
        let rows = self.store.with(|db| {
            db.query(
                "SELECT b.name, b.source, b.action, b.created_at,
                        (SELECT count(*) FROM bank_hashes h WHERE h.bank_id = b.id),
                        (SELECT count(DISTINCT item) FROM bank_hashes h WHERE h.bank_id = b.id)
                 FROM hash_banks b ORDER BY b.name",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(Bank {
                    action: parse_action(&r.text(2)?)?,
                    name: r.text(0)?,
                    source: r.text(1)?,
                    hashes: r.int(4)? as u64,
                    items: r.int(5)? as u64,
                    created_at: r.text(3)?,
                })
            })
            .collect()
    }

    /// Removes a bank and its hashes.
    pub fn remove(&self, name: &str) -> Result<(), BanksError> {
        self.store.transaction(|db| {
            if db.execute("DELETE FROM hash_banks WHERE name = ?1", vals![name])? == 0 {
                return Err(BanksError::NotFound(name.to_string()));
            }
            bump(db)?;
            Ok(())
        })
    }

    /// Imports a hash file into a bank, all or nothing: a malformed line refuses the whole file,
    /// naming the line.
    pub fn import(&self, bank: &str, file: impl BufRead) -> Result<Added, BanksError> {
        let hashes = parse_hash_file(file)?;
        self.add(bank, &hashes)
    }

    /// Adds hashes to a bank (hashes it already holds for the same item are skipped).
    pub fn add(&self, bank: &str, hashes: &[Banked]) -> Result<Added, BanksError> {
        let added = self.store.transaction(|db| {
            let id = db
                .query_opt("SELECT id FROM hash_banks WHERE name = ?1", vals![bank])?
                .ok_or_else(|| BanksError::NotFound(bank.to_string()))?
                .int(0)?;
            let mut added = 0;
            for h in hashes {
                added += db.execute(
                    "INSERT INTO bank_hashes (bank_id, item, pdq, quality)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    vals![id, &h.item, &h.pdq.hash.0[..], i64::from(h.pdq.quality)],
                )?;
            }
            bump(db)?;
            Ok::<_, BanksError>(added)
        })?;
        Ok(Added {
            bank: bank.to_string(),
            read: hashes.len() as u64,
            added,
        })
    }

    /// Adds the frame hashes of a logged decision's clip to a bank, as the item
    /// `decision:<id>` (and their centres' as `decision:<id>/centre`): what an admin does
    /// with a blocked clip so re-uploads are recognised.
    pub fn add_decision(&self, bank: &str, decision_id: &str) -> Result<Added, BanksError> {
        let d = self
            .store
            .get(decision_id)?
            .ok_or_else(|| BanksError::NoDecision(decision_id.to_string()))?;
        let Some(signals) = d.clip else {
            return Err(BanksError::Invalid(format!(
                "decision {decision_id} is of a prompt alone: there is no clip to bank"
            )));
        };
        // The frames' own hashes, and their centres' as an item of their own: a cropped
        // re-upload then matches that item as fully as an uncropped one matches the first.
        let item = format!("decision:{decision_id}");
        let centre = format!("decision:{decision_id}/centre");
        let mut hashes: Vec<Banked> = Vec::new();
        for f in signals.frames.iter().filter(|f| f.duplicate_of.is_none()) {
            let (whole, centred) = f.pdq();
            for (item, pdq) in [(&item, whole), (&centre, centred)] {
                let Some(pdq) = pdq else { continue };
                if !hashes
                    .iter()
                    .any(|h| &h.item == item && h.pdq.hash == pdq.hash)
                {
                    hashes.push(Banked {
                        item: item.clone(),
                        pdq,
                    });
                }
            }
        }
        if hashes.is_empty() {
            return Err(BanksError::Invalid(format!(
                "decision {decision_id} has no frame hashes (it was screened with hashes.enabled off, or before hashing existed): check the clip again, then bank that decision"
            )));
        }
        self.add(bank, &hashes)
    }

    /// The banks' generation: it moves with every change to any bank.
    pub fn generation(&self) -> Result<u64, BanksError> {
        let g = self.store.with(|db| {
            db.query_one("SELECT generation FROM banks_generation", &[])?
                .int(0)
        })?;
        Ok(g as u64)
    }

    /// Every bank's hashes of at least `min_quality`, indexed for matching.
    pub fn snapshot(&self, min_quality: u8) -> Result<BankSet, BanksError> {
        let (bank_rows, hash_rows) = self.store.with(|db| {
            Ok::<_, StoreError>((
                db.query("SELECT id, name, source, action FROM hash_banks", &[])?,
                db.query(
                    "SELECT bank_id, item, pdq FROM bank_hashes WHERE quality >= ?1
                     ORDER BY bank_id, item",
                    vals![i64::from(min_quality)],
                )?,
            ))
        })?;
        let mut banks = Vec::new();
        for r in &bank_rows {
            banks.push((
                r.int(0)?,
                index::BankMeta {
                    name: r.text(1)?,
                    source: r.text(2)?,
                    action: parse_action(&r.text(3)?)?,
                },
            ));
        }
        let mut entries = Vec::new();
        for r in &hash_rows {
            let bank = r.int(0)?;
            let blob = r.blob(2)?;
            let pdq: [u8; 32] = blob
                .try_into()
                .map_err(|_| StoreError::Corrupt("a banked hash is not 32 bytes".into()))?;
            let pos = banks
                .iter()
                .position(|(id, _)| *id == bank)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("a banked hash names no bank ({bank})"))
                })?;
            entries.push((pos, r.text(1)?, Pdq(pdq)));
        }
        Ok(BankSet::build(
            banks.into_iter().map(|(_, m)| m).collect(),
            entries,
        ))
    }
}

fn bump(db: &mut dyn Db) -> Result<(), StoreError> {
    db.execute(
        "UPDATE banks_generation SET generation = generation + 1",
        &[],
    )?;
    Ok(())
}

fn parse_action(s: &str) -> Result<Action, StoreError> {
    match s {
        "allow" => Ok(Action::Allow),
        "review" => Ok(Action::Review),
        "block" => Ok(Action::Block),
        other => Err(StoreError::Corrupt(format!("bank action {other:?}"))),
    }
}

/// Quality given to a hash whose file line names none: files of hashes checked elsewhere
/// often leave it out, and such a hash is trusted.
const UNSTATED_QUALITY: u8 = 100;

/// Reads a hash file as Meta's PDQ tools write it: one hash per line as 64 hex digits, then
/// optionally its quality (0-100) and the item it belongs to (a file name, a clip id),
/// separated by commas or tabs; further columns are ignored. Blank lines and lines starting
/// with `#` are skipped. A hash without an item is an item of its own (a banked image).
pub fn parse_hash_file(file: impl BufRead) -> Result<Vec<Banked>, BanksError> {
    let mut out = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line_no = n + 1;
        let line = line.map_err(|e| BanksError::Read(format!("line {line_no}: {e}")))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| BanksError::Line {
            line: line_no,
            reason,
        };
        let mut cols = line.split([',', '\t']).map(str::trim);
        let hex = cols.next().unwrap_or_default().to_ascii_lowercase();
        let hash: Pdq = hex.parse().map_err(err)?;
        let quality =
            match cols.next() {
                None | Some("") => UNSTATED_QUALITY,
                Some(q) => q.parse::<u8>().ok().filter(|q| *q <= 100).ok_or_else(|| {
                    err(format!("quality must be a whole number 0-100, not {q:?}"))
                })?,
            };
        let item = match cols.next() {
            None | Some("") => hex,
            Some(i) => i.to_string(),
        };
        out.push(Banked {
            item,
            pdq: FramePdq { hash, quality },
        });
    }
    if out.is_empty() {
        return Err(BanksError::Invalid("the hash file holds no hash".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    const H2: &str = "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af";

    #[test]
    fn hash_files_are_read_with_optional_quality_and_item() {
        let file = format!(
            "# bridge\n{H1}\n\n{},80,clip-7\n{H2}\t100\textra\tignored\n",
            H2.to_uppercase()
        );
        let got = parse_hash_file(file.as_bytes()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].item.as_str(), got[0].pdq.quality), (H1, 100));
        assert_eq!(got[1].pdq.hash.to_hex(), H2);
        assert_eq!((got[1].item.as_str(), got[1].pdq.quality), ("clip-7", 80));
        assert_eq!(got[2].item, "extra");
    }

    #[test]
    fn malformed_lines_are_named() {
        let bad = format!("{H1}\n{H1},80\nabc123,80\n");
        let e = parse_hash_file(bad.as_bytes()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBank);
        assert!(
            e.to_string()
                .starts_with("hash file line 3: a PDQ hash is 64 hex digits"),
            "{e}"
        );
        let e = parse_hash_file(format!("{H1},101\n").as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "hash file line 1: quality must be a whole number 0-100, not \"101\""
        );
        let e = parse_hash_file(format!("{}zz\n", &H1[..62]).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse_hash_file("# nothing\n\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no hash"), "{e}");
    }

    /// On both backends (PostgreSQL when the test server is up).
    #[test]
    fn banks_store_hashes_move_the_generation_and_refuse_unknown_names() {
        for (store, _db) in crate::store::test_stores() {
            let banks = Banks::new(Arc::new(store));
            let g0 = banks.generation().unwrap();
            let new = NewBank {
                name: "te-group-1".into(),
                source: "ThreatExchange privacy group 1".into(),
                action: Action::Block,
            };
            banks.create(&new).unwrap();
            assert_eq!(banks.create(&new).unwrap_err().code(), ErrorCode::Conflict);
            let file = format!("{H1},90,clip-1\n{H2},90,clip-1\n{H1},90,clip-1\n{H2},10\n");
            let added = banks.import("te-group-1", file.as_bytes()).unwrap();
            assert_eq!((added.read, added.added), (4, 3));
            let b = banks.get("te-group-1").unwrap();
            assert_eq!((b.hashes, b.items, b.action), (3, 2, Action::Block));
            assert!(banks.generation().unwrap() > g0);
            assert_eq!(
                banks.import("nope", file.as_bytes()).unwrap_err().code(),
                ErrorCode::NotFound
            );
            // The quality floor leaves the low-quality hash out of the snapshot.
            assert_eq!(banks.snapshot(50).unwrap().len(), 2);
            assert_eq!(banks.snapshot(0).unwrap().len(), 3);
            banks.remove("te-group-1").unwrap();
            assert!(banks.list().unwrap().is_empty());
            assert_eq!(banks.snapshot(0).unwrap().len(), 0);
        }
    }
}
