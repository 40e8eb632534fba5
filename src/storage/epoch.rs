//! The epoch files of a quorum member (ZooKeeper's QuorumPeer): `acceptedEpoch` and
//! `currentEpoch` in dataDir/version-2, each a decimal number as text, replaced atomically
//! (written to `<name>.tmp`, synced, renamed, directory synced) so that a crash leaves the
//! old value or the new one, never a torn file.

use std::io::Write;
use std::path::Path;

pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
pub const CURRENT_EPOCH: &str = "currentEpoch";

/// The epoch in `dir/name`; `Ok(None)` when the file does not exist (a new member).
pub fn read(dir: &Path, name: &str) -> std::io::Result<Option<i64>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t.trim().parse::<i64>().map(Some).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a number: {:?}",
                    dir.join(name).display(),
                    t.trim()
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `dir/name` with `value`, durably.
pub fn write(dir: &Path, name: &str, value: i64) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(value.to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// The epochs a member starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: i64,
    pub current: i64,
}

/// Reads the epochs in `snap_dir` (dataDir/version-2) as ZooKeeper's QuorumPeer does at
/// start-up, given the last zxid recovered:
/// - a missing file is created with the epoch of the last zxid (a member new to the ensemble
///   protocol, or upgraded from a version without the file);
/// - a currentEpoch older than the last zxid's epoch is replaced by `currentEpoch.tmp` when a
///   crash left one behind (the new value was written, not yet renamed); otherwise start-up
///   is refused, since the member could have acknowledged a proposal of a newer epoch;
/// - an acceptedEpoch below currentEpoch refuses start-up;
/// - a file that does not hold a number refuses start-up.
///
/// Earlier ferrozk versions kept both files in dataDir itself. Files found there are taken
/// over: the larger of the two values for each name is written into `snap_dir`, and the old
/// file is removed (so a Java server started later on this dataDir reads the right ones).
pub fn load(snap_dir: &Path, last_zxid: i64) -> Result<Epochs, String> {
    let fail = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(snap_dir).map_err(fail)?;
    if let Some(old_dir) = snap_dir.parent() {
        for name in [ACCEPTED_EPOCH, CURRENT_EPOCH] {
            let Some(old) = read(old_dir, name).map_err(fail)? else {
                continue;
            };
            let now = read(snap_dir, name).map_err(fail)?;
            let keep = now.map_or(old, |n| n.max(old));
            write(snap_dir, name, keep).map_err(fail)?;
            std::fs::remove_file(old_dir.join(name)).map_err(fail)?;
            tracing::info!(
                "moved {name} from {} to {} (value {keep}; an earlier ferrozk kept it in dataDir, ZooKeeper keeps it here)",
                old_dir.display(),
                snap_dir.display()
            );
        }
    }
    let of_zxid = jute::epoch_of(last_zxid);
    let or_create = |name: &str| -> Result<i64, String> {
        match read(snap_dir, name).map_err(fail)? {
            Some(v) => Ok(v),
            None => {
                tracing::info!(
                    "{name} not found in {}; creating it with the epoch of the last zxid, {of_zxid}",
                    snap_dir.display()
                );
                write(snap_dir, name, of_zxid).map_err(fail)?;
                Ok(of_zxid)
            }
        }
    };
    let mut current = or_create(CURRENT_EPOCH)?;
    if of_zxid > current {
        let tmp_name = format!("{CURRENT_EPOCH}.tmp");
        match read(snap_dir, &tmp_name).map_err(fail)? {
            Some(t) => {
                tracing::info!("{tmp_name} found; the current epoch is {t}");
                write(snap_dir, CURRENT_EPOCH, t).map_err(fail)?;
                current = t;
            }
            None => {
                return Err(format!(
                    "the current epoch, {current}, is older than the last zxid, 0x{last_zxid:x} (epoch {of_zxid}), in {}",
                    snap_dir.display()
                ))
            }
        }
    }
    let accepted = or_create(ACCEPTED_EPOCH)?;
    if accepted < current {
        return Err(format!(
            "the accepted epoch, {accepted}, is less than the current epoch, {current}, in {}",
            snap_dir.display()
        ));
    }
    Ok(Epochs { accepted, current })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_decimal_text_replaced_atomically() {
        let dir = std::env::temp_dir().join(format!("ferrozk-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&dir, CURRENT_EPOCH).unwrap(), None);
        write(&dir, CURRENT_EPOCH, 5).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(CURRENT_EPOCH)).unwrap(),
            "5"
        );
        write(&dir, CURRENT_EPOCH, 12).unwrap();
        assert_eq!(read(&dir, CURRENT_EPOCH).unwrap(), Some(12));
        assert!(!dir.join("currentEpoch.tmp").exists());
        // ZooKeeper's own files end without a newline; one with a newline reads the same.
        std::fs::write(dir.join(ACCEPTED_EPOCH), "7\n").unwrap();
        assert_eq!(read(&dir, ACCEPTED_EPOCH).unwrap(), Some(7));
        std::fs::write(dir.join(ACCEPTED_EPOCH), "garbage").unwrap();
        assert!(read(&dir, ACCEPTED_EPOCH).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn fresh(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ferrozk-epochs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("version-2")).unwrap();
        d
    }

    #[test]
    fn missing_files_take_the_epoch_of_the_last_zxid_and_are_written() {
        let d = fresh("missing");
        let v2 = d.join("version-2");
        let e = load(&v2, jute::make_zxid(4, 17)).unwrap();
        assert_eq!((e.accepted, e.current), (4, 4));
        assert_eq!(
            std::fs::read_to_string(v2.join(CURRENT_EPOCH)).unwrap(),
            "4"
        );
        assert_eq!(
            std::fs::read_to_string(v2.join(ACCEPTED_EPOCH)).unwrap(),
            "4"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_old_current_epoch_is_refused_unless_a_tmp_file_says_more() {
        let d = fresh("old");
        let v2 = d.join("version-2");
        write(&v2, CURRENT_EPOCH, 1).unwrap();
        write(&v2, ACCEPTED_EPOCH, 2).unwrap();
        let e = load(&v2, jute::make_zxid(2, 5)).unwrap_err();
        assert!(e.contains("older than the last zxid"), "{e}");
        std::fs::write(v2.join("currentEpoch.tmp"), "2").unwrap();
        let e = load(&v2, jute::make_zxid(2, 5)).unwrap();
        assert_eq!((e.accepted, e.current), (2, 2));
        // Accepted below current is refused.
        write(&v2, ACCEPTED_EPOCH, 1).unwrap();
        assert!(load(&v2, jute::make_zxid(2, 5))
            .unwrap_err()
            .contains("accepted epoch"));
        std::fs::write(v2.join(ACCEPTED_EPOCH), "x").unwrap();
        assert!(load(&v2, 0).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn files_an_earlier_ferrozk_left_in_the_data_dir_are_taken_over() {
        let d = fresh("legacy");
        let v2 = d.join("version-2");
        write(&d, ACCEPTED_EPOCH, 6).unwrap();
        write(&d, CURRENT_EPOCH, 5).unwrap();
        // A Java server wrote an older accepted epoch in version-2 meanwhile.
        write(&v2, ACCEPTED_EPOCH, 3).unwrap();
        let e = load(&v2, jute::make_zxid(5, 1)).unwrap();
        assert_eq!((e.accepted, e.current), (6, 5));
        assert!(!d.join(ACCEPTED_EPOCH).exists() && !d.join(CURRENT_EPOCH).exists());
        assert_eq!(read(&v2, ACCEPTED_EPOCH).unwrap(), Some(6));
        let _ = std::fs::remove_dir_all(&d);
    }
}
