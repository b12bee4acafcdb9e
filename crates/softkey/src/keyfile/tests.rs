use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::testutil::TempDir;

/// A file system in memory that tracks what would survive a power loss.
///
/// Directory entries and file contents each have a current and a durable version: `sync` makes a
/// file's contents durable, `sync_dir` makes the directory entries durable.
#[derive(Clone, Default)]
struct MemFs {
    next_inode: u64,
    contents: HashMap<u64, (Vec<u8>, Vec<u8>)>,
    names: HashMap<PathBuf, u64>,
    durable_names: HashMap<PathBuf, u64>,
}

impl MemFs {
    /// What a reader sees after each kind of crash: the process dies (everything written is
    /// there), the machine loses power (only what was synced), or the file system journals
    /// metadata before data (current entries, synced contents).
    fn crash_images(&self) -> Vec<(&'static str, MemFs)> {
        let process = self.clone();
        let mut power = self.clone();
        power.names = self.durable_names.clone();
        for (current, durable) in power.contents.values_mut() {
            *current = durable.clone();
        }
        let mut writeback = power.clone();
        writeback.names = self.names.clone();
        vec![
            ("process crash", process),
            ("power loss", power),
            ("metadata before data", writeback),
        ]
    }

    fn inode(&self, path: &Path) -> io::Result<u64> {
        self.names
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

impl Fs for MemFs {
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        Ok(self.contents[&self.inode(path)?].0.clone())
    }

    fn exists(&mut self, path: &Path) -> bool {
        self.names.contains_key(path)
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        let inode = match self.inode(path) {
            Ok(inode) => inode,
            Err(_) => {
                self.next_inode += 1;
                self.names.insert(path.to_path_buf(), self.next_inode);
                self.contents.insert(self.next_inode, (Vec::new(), Vec::new()));
                self.next_inode
            }
        };
        let file = self.contents.get_mut(&inode).expect("inode");
        file.0 = data.to_vec();
        Ok(())
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        let inode = self.inode(path)?;
        let file = self.contents.get_mut(&inode).expect("inode");
        file.1 = file.0.clone();
        Ok(())
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let inode = self.inode(from)?;
        self.names.remove(from);
        self.names.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn sync_dir(&mut self, _dir: &Path) -> io::Result<()> {
        self.durable_names = self.names.clone();
        Ok(())
    }

    fn create_dir_all(&mut self, _dir: &Path) -> io::Result<()> {
        // Directories are implicit in this model.
        Ok(())
    }
}

/// A [`MemFs`] that dies after a budget of steps: each operation costs one step and each byte
/// written one more, so a write can be cut after any number of bytes. After the cut every
/// operation fails, as if the process were gone. The memory is shared so the test can inspect it
/// after the key file that owns this handle is gone.
#[derive(Clone)]
struct FaultFs {
    inner: Rc<RefCell<MemFs>>,
    budget: Option<usize>,
}

impl FaultFs {
    fn new(base: &MemFs, budget: Option<usize>) -> Self {
        FaultFs {
            inner: Rc::new(RefCell::new(base.clone())),
            budget,
        }
    }

    fn spend(&mut self, cost: usize) -> Result<(), usize> {
        match self.budget {
            None => Ok(()),
            Some(left) if left >= cost => {
                self.budget = Some(left - cost);
                Ok(())
            }
            Some(left) => {
                self.budget = Some(0);
                Err(left)
            }
        }
    }
}

fn cut() -> io::Error {
    io::Error::other("cut")
}

impl Fs for FaultFs {
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        self.spend(1).map_err(|_| cut())?;
        self.inner.borrow_mut().read(path)
    }

    fn exists(&mut self, path: &Path) -> bool {
        self.inner.borrow_mut().exists(path)
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.spend(1).map_err(|_| cut())?;
        match self.spend(data.len()) {
            Ok(()) => self.inner.borrow_mut().write(path, data),
            Err(written) => {
                self.inner.borrow_mut().write(path, &data[..written])?;
                Err(cut())
            }
        }
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        self.spend(1).map_err(|_| cut())?;
        self.inner.borrow_mut().sync(path)
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.spend(1).map_err(|_| cut())?;
        self.inner.borrow_mut().rename(from, to)
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.spend(1).map_err(|_| cut())?;
        self.inner.borrow_mut().sync_dir(dir)
    }

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        self.spend(1).map_err(|_| cut())?;
        self.inner.borrow_mut().create_dir_all(dir)
    }
}

const PASS: &str = "correct horse";

/// The file-keys directory of the in-memory tests.
const FILE_KEYS: &str = "/data/file-keys";

fn file_key() -> Protection {
    Protection::FileKey(PathBuf::from(FILE_KEYS))
}

fn passphrase() -> Protection {
    Protection::Passphrase(Zeroizing::new(PASS.into()), KdfParams::INSECURE_FAST)
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// Opens the key file in `image` and returns its plaintext, or `None` if there is no file at all.
fn decode(image: &MemFs, path: &Path, pass: Option<&str>) -> Option<Vec<u8>> {
    match KeyFile::open_with(image.clone(), path, pass, Path::new(FILE_KEYS)) {
        Ok((_, plaintext)) => Some(plaintext.to_vec()),
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("the key file decodes to garbage: {e}"),
    }
}

/// Runs `step` cut after every possible budget, and after each cut checks every crash image:
/// the key file must hold one of `allowed` (`None`: no file yet). Returns the number of cut
/// points tried before `step` completed.
fn check_every_cut(
    base: &MemFs,
    path: &Path,
    pass: Option<&str>,
    allowed: &[Option<&[u8]>],
    mut step: impl FnMut(FaultFs) -> Result<(), KeyFileError>,
) -> usize {
    for budget in 0..100_000 {
        let fs = FaultFs::new(base, Some(budget));
        let finished = step(fs.clone()).is_ok();
        let after = fs.inner.borrow().clone();
        for (kind, image) in after.crash_images() {
            let found = decode(&image, path, pass);
            assert!(
                allowed.contains(&found.as_deref()),
                "budget {budget}, {kind}: found {found:?}"
            );
        }
        if finished {
            let final_state = decode(&after, path, pass);
            assert_eq!(final_state.as_deref(), *allowed.last().expect("a final state"));
            return budget;
        }
    }
    panic!("the step never completed")
}

#[test]
fn crash_at_any_point_of_a_save_leaves_old_or_new() {
    let path = Path::new("/keys/alice.kfk");
    for (protection, pass) in [(passphrase(), Some(PASS)), (file_key(), None)] {
        let base = FaultFs::new(&MemFs::default(), None);
        KeyFile::create_with(base.clone(), path, protection, b"old state", &mut rng()).unwrap();
        let base = base.inner.borrow().clone();
        let new = vec![0x5A; 300];
        let cuts = check_every_cut(&base, path, pass, &[Some(b"old state"), Some(&new)], |fs| {
            let (mut file, old) = KeyFile::open_with(
                FaultFs {
                    budget: None,
                    ..fs.clone()
                },
                path,
                pass,
                Path::new(FILE_KEYS),
            )?;
            assert_eq!(old.as_slice(), b"old state");
            file.fs_mut().budget = fs.budget;
            file.save(&new, &mut rng())
        });
        // Four operations plus every byte of the new file were each a cut point.
        assert!(cuts > new.len() + 4, "only {cuts} cut points");
    }
}

#[test]
fn crash_at_any_point_of_creation_leaves_nothing_or_new() {
    let path = Path::new("/keys/bob.kfk");
    for pass in [Some(PASS), None] {
        let cuts = check_every_cut(&MemFs::default(), path, pass, &[None, Some(b"fresh key")], |fs| {
            let protection = if pass.is_some() { passphrase() } else { file_key() };
            KeyFile::create_with(fs, path, protection, b"fresh key", &mut rng()).map(drop)
        });
        assert!(cuts > 4);
    }
}

#[test]
fn many_saves_in_a_row_each_survive_a_power_loss() {
    let path = Path::new("k");
    let fs = FaultFs::new(&MemFs::default(), None);
    let mut file = KeyFile::create_with(fs.clone(), path, passphrase(), b"0", &mut rng()).unwrap();
    let mut rng = rng();
    for i in 1..20u8 {
        file.save(&[i; 10], &mut rng).unwrap();
        for (kind, image) in fs.inner.borrow().crash_images() {
            assert_eq!(decode(&image, path, Some(PASS)), Some(vec![i; 10]), "{kind}");
        }
    }
}

#[test]
fn passphrase_round_trip_and_wrong_passphrase() {
    let path = Path::new("/k");
    let fs = FaultFs::new(&MemFs::default(), None);
    KeyFile::create_with(fs.clone(), path, passphrase(), b"secret state", &mut rng()).unwrap();
    let image = fs.inner.borrow().clone();
    assert_eq!(decode(&image, path, Some(PASS)).unwrap(), b"secret state");
    assert!(matches!(
        KeyFile::open_with(image.clone(), path, Some("wrong"), Path::new(FILE_KEYS)),
        Err(KeyFileError::Decrypt)
    ));
    assert!(matches!(
        KeyFile::open_with(image.clone(), path, None, Path::new(FILE_KEYS)),
        Err(KeyFileError::PassphraseRequired)
    ));
    let raw = image.clone().read(path).unwrap();
    assert!(!raw.windows(12).any(|w| w == b"secret state"), "plaintext leaked");
    assert_eq!(&raw[..8], b"KEYFLEET");
    assert_eq!(raw[8..10], [1, 1]);
}

/// Writes `raw` as the key file next to the sidecar of `image`, and opens it.
fn open_tampered(image: &MemFs, path: &Path, raw: &[u8], pass: Option<&str>) -> KeyFileError {
    let mut image = image.clone();
    image.write(path, raw).unwrap();
    match KeyFile::open_with(image, path, pass, Path::new(FILE_KEYS)) {
        Ok(_) => panic!("tampered file opened"),
        Err(e) => e,
    }
}

#[test]
fn every_changed_byte_is_detected() {
    let path = Path::new("/k");
    for (protection, pass) in [(passphrase(), Some(PASS)), (file_key(), None)] {
        let fs = FaultFs::new(&MemFs::default(), None);
        KeyFile::create_with(fs.clone(), path, protection, b"state", &mut rng()).unwrap();
        let image = fs.inner.borrow().clone();
        let raw = image.clone().read(path).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            // Any error will do, as long as it is an error; a few kinds are pinned below.
            let _ = open_tampered(&image, path, &bad, pass);
        }
        for len in 0..raw.len() {
            let _ = open_tampered(&image, path, &raw[..len], pass);
        }
        let mut appended = raw.clone();
        appended.push(0);
        assert!(matches!(
            open_tampered(&image, path, &appended, pass),
            KeyFileError::Decrypt
        ));
    }
}

#[test]
fn header_errors_are_typed() {
    let path = Path::new("/k");
    let fs = FaultFs::new(&MemFs::default(), None);
    KeyFile::create_with(fs.clone(), path, passphrase(), b"state", &mut rng()).unwrap();
    let image = fs.inner.borrow().clone();
    let raw = image.clone().read(path).unwrap();
    let with = |i: usize, b: u8| {
        let mut bad = raw.clone();
        bad[i] = b;
        open_tampered(&image, path, &bad, Some(PASS))
    };
    assert!(matches!(with(0, b'X'), KeyFileError::Malformed("bad magic")));
    assert!(matches!(with(8, 2), KeyFileError::UnsupportedVersion(2)));
    assert!(matches!(with(9, 9), KeyFileError::Malformed("unknown protection")));
    // m_cost = 0xFF.. KiB would be a memory bomb: refused before deriving anything.
    assert!(matches!(with(10, 0xFF), KeyFileError::Malformed(_)));
    assert!(matches!(with(17, 0xFF), KeyFileError::Malformed(_)));
    assert!(matches!(with(21, 0), KeyFileError::Malformed(_)));
    assert!(
        matches!(with(30, raw[30] ^ 1), KeyFileError::Decrypt),
        "salt is authenticated too"
    );
    assert!(matches!(
        open_tampered(&image, path, b"", Some(PASS)),
        KeyFileError::Malformed(_)
    ));
    assert!(matches!(
        open_tampered(&image, path, &raw[..40], Some(PASS)),
        KeyFileError::Malformed("truncated")
    ));
}

/// The file keys in `image`'s file-keys directory.
fn file_keys_in(image: &MemFs) -> Vec<PathBuf> {
    image
        .names
        .keys()
        .filter(|p| p.starts_with(FILE_KEYS))
        .cloned()
        .collect()
}

#[test]
fn the_file_key_lives_in_the_file_keys_directory_and_must_match() {
    let path = Path::new("/work/k");
    let fs = FaultFs::new(&MemFs::default(), None);
    KeyFile::create_with(fs.clone(), path, file_key(), b"state", &mut rng()).unwrap();
    let mut image = fs.inner.borrow().clone();
    // Nothing next to the key file but the key file itself.
    let beside: Vec<_> = image.names.keys().filter(|p| p.starts_with("/work")).collect();
    assert_eq!(beside, [path], "{:?}", image.names.keys());
    let [stored] = file_keys_in(&image).try_into().expect("one file key");
    let raw = image.read(path).unwrap();
    assert_eq!(
        stored,
        Path::new(FILE_KEYS).join(format!("{}.key", hex::encode(&raw[10..18]))),
        "named by the key id of the header"
    );
    assert_eq!(decode(&image, path, None).unwrap(), b"state");
    // A passphrase is ignored for files with a file key.
    let open = |image: &MemFs, dir: &str| KeyFile::open_with(image.clone(), path, Some("anything"), Path::new(dir));
    assert!(open(&image, FILE_KEYS).is_ok());
    let key = image.read(&stored).unwrap();
    let missing = |r: Result<_, KeyFileError>| matches!(r, Err(KeyFileError::FileKeyMissing(p)) if p == stored);
    image.write(&stored, &[0u8; 32]).unwrap();
    assert!(missing(open(&image, FILE_KEYS)));
    image.write(&stored, &[0u8; 5]).unwrap();
    assert!(missing(open(&image, FILE_KEYS)));
    image.names.remove(&stored);
    assert!(missing(open(&image, FILE_KEYS)));
    // Key files of earlier versions kept the file key next to themselves: still read there.
    image.write(&sibling(path, ".key"), &key).unwrap();
    assert!(open(&image, FILE_KEYS).is_ok());
    assert!(open(&image, "/elsewhere").is_ok());
    image.write(&sibling(path, ".key"), &[1u8; 32]).unwrap();
    assert!(missing(open(&image, FILE_KEYS)));
}

#[test]
fn create_refuses_to_overwrite() {
    let path = Path::new("/k");
    let fs = FaultFs::new(&MemFs::default(), None);
    KeyFile::create_with(fs.clone(), path, passphrase(), b"a", &mut rng()).unwrap();
    let again = KeyFile::create_with(fs.clone(), path, passphrase(), b"b", &mut rng());
    assert!(matches!(again, Err(KeyFileError::Exists(_))));
    assert_eq!(decode(&fs.inner.borrow(), path, Some(PASS)).unwrap(), b"a");
}

#[test]
fn out_of_range_kdf_params_are_refused_at_creation() {
    let weak = Protection::Passphrase(
        Zeroizing::new("p".into()),
        KdfParams {
            m_cost: 1,
            t_cost: 1,
            p_cost: 1,
        },
    );
    let result = KeyFile::create_with(
        FaultFs::new(&MemFs::default(), None),
        Path::new("/k"),
        weak,
        b"",
        &mut rng(),
    );
    assert!(matches!(result, Err(KeyFileError::Malformed(_))));
}

#[test]
fn real_files_round_trip_with_mode_0600_and_no_temp_left() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("keyfile");
    let keys_dir = dir.path().join("work");
    std::fs::create_dir(&keys_dir).unwrap();
    let file_keys = dir.path().join("data/keyfleet/file-keys");
    let path = keys_dir.join("alice.kfk");
    let mut file = KeyFile::create(&path, Protection::FileKey(file_keys.clone()), b"one", &mut rng()).unwrap();
    file.save(b"two", &mut rng()).unwrap();
    let (_, plaintext) = KeyFile::open(&path, None, &file_keys).unwrap();
    assert_eq!(plaintext.as_slice(), b"two");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let stored: Vec<_> = std::fs::read_dir(&file_keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    for p in [&path, &stored[0]] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    for d in [&file_keys, &dir.path().join("data")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let names: Vec<_> = std::fs::read_dir(&keys_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["alice.kfk"], "nothing but the key file beside it");
    let pass_path = keys_dir.join("bob.kfk");
    KeyFile::create(&pass_path, passphrase(), b"three", &mut rng()).unwrap();
    assert_eq!(
        std::fs::read_dir(&file_keys).unwrap().count(),
        1,
        "no file key with a passphrase"
    );
    assert_eq!(
        KeyFile::open(&pass_path, Some(PASS), &file_keys).unwrap().1.as_slice(),
        b"three"
    );
}

#[test]
fn a_second_process_cannot_take_the_lock() {
    let dir = TempDir::new("lock");
    let path = dir.path().join("k.kfk");
    let held = KeyLock::acquire(&path).unwrap();
    // A second open file description is a different lock owner, as another process would be.
    let err = KeyLock::acquire(&path).err().expect("refused");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(held);
    KeyLock::acquire(&path).unwrap();
}
