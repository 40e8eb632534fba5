//! Kerberos through the system's MIT GSSAPI library (`libgssapi_krb5.so.2`), loaded when a
//! configuration asks for Kerberos rather than linked: the binding crates need libclang and
//! the krb5 headers to build, which a fresh machine lacks, and a server without Kerberos must
//! not need the library at all. The C API is RFC 2744's (with MIT's `gss_acquire_cred_from`),
//! declared here by hand; only what a SASL GSSAPI acceptor (RFC 4752) uses.
//!
//! Every call may read the keytab or the replay cache: run them off the async workers.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

#[repr(C)]
struct Oid {
    length: u32,
    elements: *const c_void,
}

#[repr(C)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

#[repr(C)]
struct OidSet {
    count: usize,
    elements: *const Oid,
}

#[repr(C)]
struct KeyValue {
    key: *const c_char,
    value: *const c_char,
}

#[repr(C)]
struct KeyValueSet {
    count: u32,
    elements: *const KeyValue,
}

type Major = u32;
type ImportName =
    unsafe extern "C" fn(*mut u32, *const Buffer, *const Oid, *mut *mut c_void) -> Major;
type DisplayName =
    unsafe extern "C" fn(*mut u32, *mut c_void, *mut Buffer, *mut *const Oid) -> Major;
type AcquireCredFrom = unsafe extern "C" fn(
    *mut u32,
    *mut c_void,
    u32,
    *const c_void,
    c_int,
    *const KeyValueSet,
    *mut *mut c_void,
    *mut c_void,
    *mut u32,
) -> Major;
type AcceptSecContext = unsafe extern "C" fn(
    *mut u32,
    *mut *mut c_void,
    *mut c_void,
    *const Buffer,
    *const c_void,
    *mut *mut c_void,
    *mut *const Oid,
    *mut Buffer,
    *mut u32,
    *mut u32,
    *mut *mut c_void,
) -> Major;
type InitSecContext = unsafe extern "C" fn(
    *mut u32,
    *mut c_void,
    *mut *mut c_void,
    *mut c_void,
    *const Oid,
    u32,
    u32,
    *const c_void,
    *const Buffer,
    *mut *const Oid,
    *mut Buffer,
    *mut u32,
    *mut u32,
) -> Major;
type Wrap = unsafe extern "C" fn(
    *mut u32,
    *mut c_void,
    c_int,
    u32,
    *const Buffer,
    *mut c_int,
    *mut Buffer,
) -> Major;
type Unwrap = unsafe extern "C" fn(
    *mut u32,
    *mut c_void,
    *const Buffer,
    *mut Buffer,
    *mut c_int,
    *mut u32,
) -> Major;
type ReleaseBuffer = unsafe extern "C" fn(*mut u32, *mut Buffer) -> Major;
type ReleaseName = unsafe extern "C" fn(*mut u32, *mut *mut c_void) -> Major;
type DeleteSecContext = unsafe extern "C" fn(*mut u32, *mut *mut c_void, *mut Buffer) -> Major;
type ReleaseCred = unsafe extern "C" fn(*mut u32, *mut *mut c_void) -> Major;
type DisplayStatus =
    unsafe extern "C" fn(*mut u32, u32, c_int, *const Oid, *mut u32, *mut Buffer) -> Major;

struct Lib {
    import_name: ImportName,
    display_name: DisplayName,
    acquire_cred_from: AcquireCredFrom,
    accept_sec_context: AcceptSecContext,
    init_sec_context: InitSecContext,
    wrap: Wrap,
    unwrap: Unwrap,
    release_buffer: ReleaseBuffer,
    release_name: ReleaseName,
    delete_sec_context: DeleteSecContext,
    release_cred: ReleaseCred,
    display_status: DisplayStatus,
}

/// 1.2.840.113554.1.2.2.1: a Kerberos principal name.
static NT_KRB5_PRINCIPAL: [u8; 10] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01];
/// 1.2.840.113554.1.2.1.4: a host-based service name (`service@host`).
static NT_HOSTBASED_SERVICE: [u8; 10] =
    [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04];
/// 1.2.840.113554.1.2.2: the Kerberos 5 mechanism.
static MECH_KRB5: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const GSS_C_INITIATE: c_int = 1;
const GSS_C_ACCEPT: c_int = 2;
const GSS_C_CONF_FLAG: u32 = 16;
const GSS_C_INTEG_FLAG: u32 = 32;
const GSS_C_ANON_FLAG: u32 = 64;
/// The supplementary bits of an unwrap's status (duplicate, old, unsequenced, gap).
const SUPPLEMENTARY: Major = 0x1e;
const GSS_C_INDEFINITE: u32 = 0xffff_ffff;
const CONTINUE_NEEDED: Major = 1;

fn lib() -> Result<&'static Lib, String> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(|| unsafe { load() })
        .as_ref()
        .map_err(Clone::clone)
}

unsafe fn load() -> Result<Lib, String> {
    let name = c"libgssapi_krb5.so.2";
    // SAFETY: dlopen with a valid C string; the handle is kept for the process's life.
    let h = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
    if h.is_null() {
        return Err(
            "cannot load libgssapi_krb5.so.2 (MIT Kerberos; Debian: apt-get install libgssapi-krb5-2)"
                .into(),
        );
    }
    macro_rules! sym {
        ($n:literal, $t:ty) => {{
            let s = CString::new($n).map_err(|e| e.to_string())?;
            // SAFETY: looking up a symbol of the library just loaded.
            let p = libc::dlsym(h, s.as_ptr());
            if p.is_null() {
                return Err(format!("libgssapi_krb5.so.2 has no {}", $n));
            }
            // SAFETY: the symbol is the RFC 2744 function of that name, whose C signature the
            // target type declares.
            std::mem::transmute::<*mut c_void, $t>(p)
        }};
    }
    Ok(Lib {
        import_name: sym!("gss_import_name", ImportName),
        display_name: sym!("gss_display_name", DisplayName),
        acquire_cred_from: sym!("gss_acquire_cred_from", AcquireCredFrom),
        accept_sec_context: sym!("gss_accept_sec_context", AcceptSecContext),
        init_sec_context: sym!("gss_init_sec_context", InitSecContext),
        wrap: sym!("gss_wrap", Wrap),
        unwrap: sym!("gss_unwrap", Unwrap),
        release_buffer: sym!("gss_release_buffer", ReleaseBuffer),
        release_name: sym!("gss_release_name", ReleaseName),
        delete_sec_context: sym!("gss_delete_sec_context", DeleteSecContext),
        release_cred: sym!("gss_release_cred", ReleaseCred),
        display_status: sym!("gss_display_status", DisplayStatus),
    })
}

fn input(b: &[u8]) -> Buffer {
    Buffer {
        length: b.len(),
        value: b.as_ptr() as *mut c_void,
    }
}

/// The library's bytes, released.
fn take(l: &Lib, mut b: Buffer) -> Vec<u8> {
    let out = if b.length == 0 || b.value.is_null() {
        Vec::new()
    } else {
        // SAFETY: the library returned `length` readable bytes at `value`.
        unsafe { std::slice::from_raw_parts(b.value as *const u8, b.length).to_vec() }
    };
    let mut minor = 0;
    // SAFETY: releasing a buffer the library allocated.
    unsafe { (l.release_buffer)(&mut minor, &mut b) };
    out
}

/// The library's words for a status.
fn status(l: &Lib, major: Major, minor: u32) -> String {
    let mut out = Vec::new();
    for (code, kind) in [(major, 1), (minor, 2)] {
        let mut ctx = 0u32;
        for _ in 0..8 {
            let mut m = 0;
            let mut b = Buffer {
                length: 0,
                value: std::ptr::null_mut(),
            };
            // SAFETY: out-parameters owned here; a null mechanism means the default.
            unsafe { (l.display_status)(&mut m, code, kind, std::ptr::null(), &mut ctx, &mut b) };
            out.push(String::from_utf8_lossy(&take(l, b)).into_owned());
            if ctx == 0 {
                break;
            }
        }
    }
    out.join("; ")
}

fn failed(major: Major) -> bool {
    major & 0xffff_0000 != 0
}

/// An acceptor credential: the principal's keys from the keytab.
pub struct Acceptor {
    cred: *mut c_void,
}

// SAFETY: an MIT credential handle may be used from any thread: the library locks it for the
// whole of each call that uses it.
unsafe impl Send for Acceptor {}
unsafe impl Sync for Acceptor {}

impl Acceptor {
    pub fn new(principal: &str, keytab: &str) -> Result<Acceptor, String> {
        let cred = credential(principal, GSS_C_ACCEPT, &[("keytab", keytab)])?;
        Ok(Acceptor { cred })
    }
}

/// A credential of `principal` (a Kerberos name), from the credential store `store`.
fn credential(
    principal: &str,
    usage: c_int,
    store: &[(&str, &str)],
) -> Result<*mut c_void, String> {
    let l = lib()?;
    let mut minor = 0;
    let mut name = import(l, principal, &NT_KRB5_PRINCIPAL)?;
    let owned: Vec<(CString, CString)> = store
        .iter()
        .map(|(k, v)| Ok((CString::new(*k)?, CString::new(*v)?)))
        .collect::<Result<_, std::ffi::NulError>>()
        .map_err(|e| e.to_string())?;
    let kv: Vec<KeyValue> = owned
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    let set = KeyValueSet {
        count: kv.len() as u32,
        elements: kv.as_ptr(),
    };
    // Kerberos 5 only, as the JDK's acceptor in ZooKeeper (not SPNEGO or other plug-ins).
    let krb5 = Oid {
        length: MECH_KRB5.len() as u32,
        elements: MECH_KRB5.as_ptr() as *const c_void,
    };
    let mechs = OidSet {
        count: 1,
        elements: &krb5,
    };
    let mut cred = std::ptr::null_mut();
    // SAFETY: the name, mechanism set and store live through the call; `cred` receives a new
    // credential.
    let major = unsafe {
        (l.acquire_cred_from)(
            &mut minor,
            name,
            GSS_C_INDEFINITE,
            &mechs as *const OidSet as *const c_void,
            usage,
            &set,
            &mut cred,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    let mut m = 0;
    // SAFETY: releasing the name imported above.
    unsafe { (l.release_name)(&mut m, &mut name) };
    if failed(major) {
        let from = store.first().map(|(_, v)| *v).unwrap_or("");
        return Err(format!(
            "{principal} from {from}: {}",
            status(l, major, minor)
        ));
    }
    Ok(cred)
}

/// A name of type `oid`.
fn import(l: &Lib, text: &str, oid: &[u8]) -> Result<*mut c_void, String> {
    let mut minor = 0;
    let mut name = std::ptr::null_mut();
    let oid = Oid {
        length: oid.len() as u32,
        elements: oid.as_ptr() as *const c_void,
    };
    // SAFETY: valid input buffer and OID; `name` receives a new name.
    let major = unsafe { (l.import_name)(&mut minor, &input(text.as_bytes()), &oid, &mut name) };
    if failed(major) {
        return Err(format!("{text}: {}", status(l, major, minor)));
    }
    Ok(name)
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            let mut minor = 0;
            // SAFETY: releasing the credential acquired in `new`.
            unsafe { (l.release_cred)(&mut minor, &mut self.cred) };
        }
    }
}

/// One connection's SASL GSSAPI exchange, as the JDK's server runs it for ZooKeeper: the
/// client's AP-REQ (answered with the AP-REP when it asked for mutual authentication), then
/// the wrapped offer of no security layer with a 65536-byte buffer, then the client's wrapped
/// choice, after which the exchange is complete with no last token.
pub struct GssServer {
    ctx: *mut c_void,
    peer: Option<String>,
    stage: u8,
}

// SAFETY: a context is used by one exchange at a time (the node hands it to one blocking task
// at a time).
unsafe impl Send for GssServer {}

/// What a GSSAPI step gives.
pub enum GssStep {
    /// Send this token.
    Continue(Vec<u8>),
    /// Authenticated as this principal (which asked to act as the second); the last token
    /// is null.
    Complete(String, String),
}

impl Default for GssServer {
    fn default() -> Self {
        GssServer {
            ctx: std::ptr::null_mut(),
            peer: None,
            stage: 0,
        }
    }
}

impl GssServer {
    pub fn step(&mut self, acceptor: &Acceptor, token: &[u8]) -> Result<GssStep, String> {
        let l = lib()?;
        let mut minor = 0;
        match self.stage {
            0 => {
                let mut src = std::ptr::null_mut();
                let mut out = Buffer {
                    length: 0,
                    value: std::ptr::null_mut(),
                };
                let mut flags = 0u32;
                // SAFETY: the context starts null and is kept in `self`; out-parameters are
                // owned here.
                let major = unsafe {
                    (l.accept_sec_context)(
                        &mut minor,
                        &mut self.ctx,
                        acceptor.cred,
                        &input(token),
                        std::ptr::null(),
                        &mut src,
                        std::ptr::null_mut(),
                        &mut out,
                        &mut flags,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                };
                let out = take(l, out);
                if failed(major) {
                    return Err(format!("GSS initiate failed: {}", status(l, major, minor)));
                }
                if major & CONTINUE_NEEDED != 0 {
                    return Ok(GssStep::Continue(out));
                }
                let mut name = Buffer {
                    length: 0,
                    value: std::ptr::null_mut(),
                };
                // SAFETY: `src` is the name the library returned for the established context.
                let major =
                    unsafe { (l.display_name)(&mut minor, src, &mut name, std::ptr::null_mut()) };
                let peer = String::from_utf8(take(l, name));
                let mut m = 0;
                // SAFETY: releasing that name.
                unsafe { (l.release_name)(&mut m, &mut src) };
                if failed(major) {
                    return Err(format!("GSS name: {}", status(l, major, minor)));
                }
                let peer = peer.map_err(|_| "GSS name: not UTF-8".to_string())?;
                if flags & GSS_C_ANON_FLAG != 0 {
                    return Err("GSSAPI: anonymous principals are not taken".into());
                }
                self.peer = Some(peer);
                self.stage = 1;
                if !out.is_empty() {
                    // The AP-REP; the client answers with an empty token.
                    return Ok(GssStep::Continue(out));
                }
                self.offer(l)
            }
            1 => {
                if !token.is_empty() {
                    return Err("GSSAPI: handshake expecting no response data".into());
                }
                self.offer(l)
            }
            2 => {
                let mut out = Buffer {
                    length: 0,
                    value: std::ptr::null_mut(),
                };
                let (mut conf, mut qop) = (0, 0u32);
                // SAFETY: the established context; out-parameters owned here.
                let major = unsafe {
                    (l.unwrap)(
                        &mut minor,
                        self.ctx,
                        &input(token),
                        &mut out,
                        &mut conf,
                        &mut qop,
                    )
                };
                let plain = take(l, out);
                if failed(major) {
                    return Err(format!(
                        "GSSAPI: final handshake step failed: {}",
                        status(l, major, minor)
                    ));
                }
                if plain.len() < 4 || plain[0] & 0x01 == 0 {
                    return Err("GSSAPI: client selected unsupported protection".into());
                }
                self.stage = 3;
                let peer = self.peer.clone().unwrap_or_default();
                let authzid = if plain.len() > 4 {
                    String::from_utf8(plain[4..].to_vec())
                        .map_err(|_| "GSSAPI: authorization id not UTF-8".to_string())?
                } else {
                    peer.clone()
                };
                Ok(GssStep::Complete(peer, authzid))
            }
            _ => Err("GSSAPI: authentication already complete".into()),
        }
    }

    /// The wrapped offer: no security layer, a 65536-byte buffer.
    fn offer(&mut self, l: &Lib) -> Result<GssStep, String> {
        let mut minor = 0;
        let mut out = Buffer {
            length: 0,
            value: std::ptr::null_mut(),
        };
        let mut conf = 0;
        let offer = [0x01u8, 0x01, 0x00, 0x00];
        // SAFETY: the established context; out-parameters owned here.
        let major = unsafe {
            (l.wrap)(
                &mut minor,
                self.ctx,
                0,
                0,
                &input(&offer),
                &mut conf,
                &mut out,
            )
        };
        let wrapped = take(l, out);
        if failed(major) {
            return Err(format!("GSSAPI: wrap failed: {}", status(l, major, minor)));
        }
        self.stage = 2;
        Ok(GssStep::Continue(wrapped))
    }
}

impl Drop for GssServer {
    fn drop(&mut self) {
        if self.ctx.is_null() {
            return;
        }
        if let Ok(l) = lib() {
            let mut minor = 0;
            // SAFETY: deleting the context this exchange created.
            unsafe { (l.delete_sec_context)(&mut minor, &mut self.ctx, std::ptr::null_mut()) };
        }
    }
}

static ACCEPTOR: OnceLock<Acceptor> = OnceLock::new();
static QUORUM_ACCEPTOR: OnceLock<Acceptor> = OnceLock::new();

/// Sets the client port's acceptor credential (at start-up).
pub fn install(a: Acceptor) {
    let _ = ACCEPTOR.set(a);
}

/// The client port's acceptor credential, once installed.
pub fn acceptor() -> Option<&'static Acceptor> {
    ACCEPTOR.get()
}

/// Sets the quorum's acceptor credential (at start-up).
pub fn install_quorum(a: Acceptor) {
    let _ = QUORUM_ACCEPTOR.set(a);
}

/// The quorum's acceptor credential, once installed.
pub fn quorum_acceptor() -> Option<&'static Acceptor> {
    QUORUM_ACCEPTOR.get()
}

/// Checks that `principal`'s keys in `keytab` can be used to initiate (at start-up).
pub fn check_initiator(principal: &str, keytab: &str) -> Result<(), String> {
    let l = lib()?;
    let mut cred = credential(
        principal,
        GSS_C_INITIATE,
        &[
            ("client_keytab", keytab),
            ("ccache", "MEMORY:ferrozk-check"),
        ],
    )?;
    let mut m = 0;
    // SAFETY: releasing the credential just acquired.
    unsafe { (l.release_cred)(&mut m, &mut cred) };
    Ok(())
}

/// The dialling side of a quorum SASL GSSAPI exchange, as the JDK's client with ZooKeeper's
/// settings: the AP-REQ (no mutual authentication asked), then, to the server's wrapped offer,
/// the wrapped choice of no security layer with our principal as the authorization id.
pub struct GssClient {
    cred: *mut c_void,
    target: *mut c_void,
    ctx: *mut c_void,
    principal: String,
    established: bool,
    complete: bool,
}

// SAFETY: used by one exchange at a time, on one blocking thread at a time.
unsafe impl Send for GssClient {}

impl GssClient {
    /// `principal` with its keys from `keytab` (the ticket it needs fetched by the library into
    /// a memory cache), for the service `service@host`.
    pub fn new(
        principal: &str,
        keytab: &str,
        service: &str,
        host: &str,
    ) -> Result<GssClient, String> {
        let l = lib()?;
        let cache = format!("MEMORY:ferrozk-{}", std::process::id());
        let cred = credential(
            principal,
            GSS_C_INITIATE,
            &[("client_keytab", keytab), ("ccache", &cache)],
        )?;
        let target = match import(l, &format!("{service}@{host}"), &NT_HOSTBASED_SERVICE) {
            Ok(t) => t,
            Err(e) => {
                let mut minor = 0;
                let mut c = cred;
                // SAFETY: releasing the credential acquired above.
                unsafe { (l.release_cred)(&mut minor, &mut c) };
                return Err(e);
            }
        };
        Ok(GssClient {
            cred,
            target,
            ctx: std::ptr::null_mut(),
            principal: principal.to_string(),
            established: false,
            complete: false,
        })
    }

    /// The token to send after `token` (None: the first).
    pub fn step(&mut self, token: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let l = lib()?;
        let mut minor = 0;
        if !self.established {
            let mech = Oid {
                length: MECH_KRB5.len() as u32,
                elements: MECH_KRB5.as_ptr() as *const c_void,
            };
            let mut out = Buffer {
                length: 0,
                value: std::ptr::null_mut(),
            };
            let mut flags = 0u32;
            // SAFETY: the context starts null and is kept in `self`; out-parameters are owned
            // here.
            let major = unsafe {
                (l.init_sec_context)(
                    &mut minor,
                    self.cred,
                    &mut self.ctx,
                    self.target,
                    &mech,
                    GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG,
                    0,
                    std::ptr::null(),
                    &input(token.unwrap_or(&[])),
                    std::ptr::null_mut(),
                    &mut out,
                    &mut flags,
                    std::ptr::null_mut(),
                )
            };
            let out = take(l, out);
            if failed(major) {
                return Err(format!("GSS initiate failed: {}", status(l, major, minor)));
            }
            self.established = major & CONTINUE_NEEDED == 0;
            return Ok(out);
        }
        let token = token.unwrap_or(&[]);
        if token.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Buffer {
            length: 0,
            value: std::ptr::null_mut(),
        };
        let (mut conf, mut qop) = (0, 0u32);
        // SAFETY: the established context; out-parameters owned here.
        let major = unsafe {
            (l.unwrap)(
                &mut minor,
                self.ctx,
                &input(token),
                &mut out,
                &mut conf,
                &mut qop,
            )
        };
        let offer = take(l, out);
        if self.complete {
            return Err("GSSAPI: a challenge after the exchange completed".into());
        }
        if failed(major) || major & SUPPLEMENTARY != 0 || offer.len() != 4 || offer[0] & 0x01 == 0 {
            return Err("GSSAPI: the server offers no security layer we take".into());
        }
        let mut reply = vec![0x01, 0, 0, 0];
        reply.extend_from_slice(self.principal.as_bytes());
        let mut out = Buffer {
            length: 0,
            value: std::ptr::null_mut(),
        };
        // SAFETY: as above.
        let major = unsafe {
            (l.wrap)(
                &mut minor,
                self.ctx,
                0,
                0,
                &input(&reply),
                &mut conf,
                &mut out,
            )
        };
        let wrapped = take(l, out);
        if failed(major) {
            return Err(format!("GSSAPI: wrap failed: {}", status(l, major, minor)));
        }
        self.complete = true;
        Ok(wrapped)
    }

    /// The server's offer was taken (so the server proved its key) and answered.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

impl Drop for GssClient {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            let mut minor = 0;
            // SAFETY: releasing what `new` and `step` created.
            unsafe {
                if !self.ctx.is_null() {
                    (l.delete_sec_context)(&mut minor, &mut self.ctx, std::ptr::null_mut());
                }
                (l.release_name)(&mut minor, &mut self.target);
                (l.release_cred)(&mut minor, &mut self.cred);
            }
        }
    }
}
