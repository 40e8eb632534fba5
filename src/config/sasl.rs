//! SASL and enforced authentication, as ZooKeeper configures them: the JAAS file the JVM
//! property `java.security.auth.login.config` names (from `SERVER_JVMFLAGS`, `JVMFLAGS` or the
//! configuration directory's `java.env`, as zkServer.sh passes them), its `Server` section
//! (`zookeeper.sasl.serverconfig`), and the zoo.cfg keys (`authProvider.N`, `superUser`,
//! `kerberos.*`, `sessionRequireClientSASLAuth`, `enforce.auth.*`, `allowSaslFailedClients`).

use super::settings::Props;
use super::ConfigError;
use std::collections::BTreeMap;

/// The client port's SASL mechanism and its users (DIGEST-MD5: the `user_<name>` options of
/// the section's login modules).
#[derive(Debug, Clone)]
pub struct SaslServerSettings {
    pub jaas_file: String,
    pub section: String,
    pub users: BTreeMap<String, String>,
    /// `zookeeper.SASLAuthenticationProvider.superPassword`: the password of the user `super`.
    pub super_password: Option<String>,
    /// Kerberos (GSSAPI) instead of DIGEST-MD5: the section logs in with Krb5LoginModule.
    pub kerberos: Option<KerberosSettings>,
}

/// The server's Kerberos identity, from the JAAS section's Krb5LoginModule options.
#[derive(Debug, Clone)]
pub struct KerberosSettings {
    /// `principal`, with the default realm when it named none.
    pub principal: String,
    pub keytab: String,
    /// `java.security.krb5.conf`, which MIT's library takes as `KRB5_CONFIG`.
    pub krb5_conf: Option<String>,
    /// The default realm (`java.security.krb5.realm`, else krb5.conf's `default_realm`): a
    /// principal of another realm keeps its realm whatever `kerberos.removeRealmFromPrincipal`
    /// says, as ZooKeeper's DEFAULT name rule has it.
    pub default_realm: String,
}

/// `[libdefaults] default_realm` of a krb5.conf.
fn default_realm_of(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_lib = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_lib = l.eq_ignore_ascii_case("[libdefaults]");
        } else if in_lib {
            if let Some((k, v)) = l.split_once('=') {
                if k.trim() == "default_realm" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

fn kerberos(
    e: &crate::sasl::jaas::Entry,
    jvm: &BTreeMap<String, String>,
) -> Result<KerberosSettings, String> {
    let principal = e
        .option("principal")
        .ok_or("its Krb5LoginModule has no principal")?;
    let keytab = e
        .option("keyTab")
        .ok_or("its Krb5LoginModule has no keyTab (ferrozk reads the keys from a keytab)")?;
    let krb5_conf = jvm.get("java.security.krb5.conf").cloned();
    // The file MIT's library will read (the JVM flag is made its KRB5_CONFIG at start-up).
    let conf = krb5_conf
        .clone()
        .or_else(|| {
            std::env::var("KRB5_CONFIG")
                .ok()
                .and_then(|v| v.split(':').next().map(str::to_string))
        })
        .unwrap_or_else(|| "/etc/krb5.conf".into());
    let default_realm = jvm
        .get("java.security.krb5.realm")
        .cloned()
        .or_else(|| default_realm_of(&conf))
        .unwrap_or_default();
    let principal = if principal.contains('@') || default_realm.is_empty() {
        principal.to_string()
    } else {
        format!("{principal}@{default_realm}")
    };
    Ok(KerberosSettings {
        principal,
        keytab: keytab.to_string(),
        krb5_conf,
        default_realm,
    })
}

#[derive(Debug, Clone, Default)]
pub struct SaslSettings {
    /// `authProvider.N` names SASLAuthenticationProvider: `sasl` ACLs are valid and match.
    pub provider: bool,
    /// SASL on the client port: on when the JAAS file has the server section.
    pub server: Option<SaslServerSettings>,
    /// `superUser` and `superUser.*`: SASL ids that are also `super`.
    pub super_users: Vec<String>,
    pub remove_host: bool,
    pub remove_realm: bool,
    /// `letAnySaslUserDoX`: the ACL id any SASL-authenticated client matches.
    pub let_any: Option<String>,
    /// `allowSaslFailedClients`: a failed SASL exchange leaves the connection open.
    pub allow_failed: bool,
    /// Enforced authentication: the schemes one of which every session must authenticate
    /// with before any request but auth and SASL (`sessionRequireClientSASLAuth`, or
    /// `enforce.auth.enabled` with `enforce.auth.schemes`).
    pub enforce: Option<Vec<String>>,
    /// Quorum SASL (`quorum.auth.enableSasl`), for ensemble members.
    pub quorum: Option<crate::sasl::quorum::QuorumAuth>,
    /// `java.security.krb5.conf` from the JVM flags (MIT's `KRB5_CONFIG`).
    pub krb5_conf: Option<String>,
    /// The JAAS file (`java.security.auth.login.config`), when there is one.
    pub jaas_file: Option<String>,
}

impl SaslSettings {
    /// Whether a SASL failure must answer SESSIONCLOSEDREQUIRESASLAUTH.
    pub fn sasl_required(&self) -> bool {
        self.enforce
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == "sasl"))
    }
}

/// The `-Dkey=value` properties of JVM flags. zkServer.sh expands its flag variables
/// unquoted, so they are split at whitespace whatever quotes the assignment used.
pub fn jvm_properties(flags: &str, out: &mut BTreeMap<String, String>) {
    let unquoted: String = flags.chars().filter(|c| *c != '"' && *c != '\'').collect();
    for w in unquoted.split_whitespace() {
        if let Some((k, v)) = w.strip_prefix("-D").and_then(|kv| kv.split_once('=')) {
            out.insert(k.to_string(), v.to_string());
        }
    }
}

/// The JVM properties zkServer.sh would give the server: `-D` flags of the configuration
/// directory's `java.env` (the lines setting SERVER_JVMFLAGS or JVMFLAGS), then of the
/// `SERVER_JVMFLAGS` and `JVMFLAGS` environment variables.
pub fn server_jvm_properties(config_dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dir = std::env::var_os("ZOOCFGDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| config_dir.to_path_buf());
    if let Ok(text) = std::fs::read_to_string(dir.join("java.env")) {
        for line in text.lines() {
            let l = line.trim_start().trim_start_matches("export ").trim_start();
            if let Some((name, value)) = l.split_once('=') {
                if matches!(name.trim(), "SERVER_JVMFLAGS" | "JVMFLAGS") {
                    jvm_properties(value, &mut out);
                }
            }
        }
    }
    for var in ["SERVER_JVMFLAGS", "JVMFLAGS"] {
        if let Ok(v) = std::env::var(var) {
            jvm_properties(&v, &mut out);
        }
    }
    out
}

pub(super) fn parse(
    p: &Props,
    jvm: &BTreeMap<String, String>,
    x509: bool,
    ensemble: bool,
) -> Result<SaslSettings, ConfigError> {
    let provider = p
        .map_keys()
        .any(|(k, v)| k.starts_with("authProvider.") && v.ends_with(".SASLAuthenticationProvider"));
    let mut super_users: Vec<String> = p
        .map_keys()
        .filter(|(k, _)| *k == "superUser" || k.starts_with("superUser."))
        .map(|(_, v)| v.to_string())
        .collect();
    super_users.sort();
    let server = server_section(p, jvm)?;
    let quorum = if ensemble { quorum(p, jvm)? } else { None };
    let enforce = if p.boolean("sessionRequireClientSASLAuth", false)? {
        if !provider {
            return Err(p.invalid(
                "sessionRequireClientSASLAuth",
                "true",
                "authentication scheme sasl is not available (set authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)",
            ));
        }
        Some(vec!["sasl".to_string()])
    } else if p.boolean("enforce.auth.enabled", false)? {
        let schemes: Vec<String> = p
            .text("enforce.auth.schemes")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if schemes.is_empty() {
            return Err(p.invalid(
                "enforce.auth.schemes",
                "",
                "enforce.auth.enabled is true, so it must name the schemes",
            ));
        }
        for s in &schemes {
            let available = match s.as_str() {
                "ip" | "digest" => true,
                "x509" => x509,
                "sasl" => provider,
                _ => false,
            };
            if !available {
                return Err(p.invalid(
                    "enforce.auth.schemes",
                    &schemes.join(","),
                    &format!(
                        "authentication scheme {s} is not available (no provider registers it)"
                    ),
                ));
            }
        }
        Some(schemes)
    } else {
        None
    };
    Ok(SaslSettings {
        provider,
        server,
        super_users,
        remove_host: p.boolean("kerberos.removeHostFromPrincipal", false)?,
        remove_realm: p.boolean("kerberos.removeRealmFromPrincipal", false)?,
        let_any: p.text("letAnySaslUserDoX").filter(|s| !s.is_empty()),
        allow_failed: p.boolean("allowSaslFailedClients", false)?,
        enforce,
        quorum,
        krb5_conf: jvm.get("java.security.krb5.conf").cloned(),
        jaas_file: jvm.get("java.security.auth.login.config").cloned(),
    })
}

/// A JAAS file's name and its sections.
type Jaas = (String, BTreeMap<String, Vec<crate::sasl::jaas::Entry>>);

/// The JAAS file's sections (None without a JAAS file).
fn jaas_sections(p: &Props, jvm: &BTreeMap<String, String>) -> Result<Option<Jaas>, ConfigError> {
    const KEY: &str = "java.security.auth.login.config";
    let Some(file) = jvm.get(KEY).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: String| p.invalid(KEY, file, &why);
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let sections = crate::sasl::jaas::parse(&text, jvm).map_err(bad)?;
    Ok(Some((file.clone(), sections)))
}

/// `quorum.auth.*`: on with `enableSasl`; the learner's credentials from the
/// `QuorumLearner` section (`quorum.auth.learner.saslLoginContext`), the users from the
/// `QuorumServer` section's DigestLoginModule entries (`quorum.auth.server.saslLoginContext`).
fn quorum(
    p: &Props,
    jvm: &BTreeMap<String, String>,
) -> Result<Option<crate::sasl::quorum::QuorumAuth>, ConfigError> {
    let enable = p.boolean("quorum.auth.enableSasl", false)?;
    let learner_require = p.boolean("quorum.auth.learnerRequireSasl", false)?;
    let server_require = p.boolean("quorum.auth.serverRequireSasl", false)?;
    if !enable {
        for (k, on) in [
            ("quorum.auth.learnerRequireSasl", learner_require),
            ("quorum.auth.serverRequireSasl", server_require),
        ] {
            if on {
                return Err(p.invalid(k, "true", "needs quorum.auth.enableSasl=true"));
            }
        }
        return Ok(None);
    }
    if server_require && !learner_require {
        return Err(p.invalid(
            "quorum.auth.serverRequireSasl",
            "true",
            "needs quorum.auth.learnerRequireSasl=true (the learners must authenticate first)",
        ));
    }
    const KEY: &str = "java.security.auth.login.config";
    let Some((file, sections)) = jaas_sections(p, jvm)? else {
        return Err(p.invalid(
            "quorum.auth.enableSasl",
            "true",
            "needs a JAAS file (-Djava.security.auth.login.config in SERVER_JVMFLAGS or java.env)",
        ));
    };
    let section = |key: &str,
                   default: &str|
     -> Result<(String, Vec<crate::sasl::jaas::Entry>), ConfigError> {
        let name = p
            .text(key)
            .filter(|s| !s.is_empty())
            .unwrap_or(default.to_string());
        let entries = sections.get(&name).cloned().ok_or_else(|| {
            p.invalid(
                KEY,
                &file,
                &format!("has no {name} section, which quorum SASL needs"),
            )
        })?;
        Ok((name, entries))
    };
    let (sname, server) = section("quorum.auth.server.saslLoginContext", "QuorumServer")?;
    let (lname, learner) = section("quorum.auth.learner.saslLoginContext", "QuorumLearner")?;
    // Kerberos in either section: the keys of its principal, from its keytab.
    let krb = |name: &str,
               entries: &[crate::sasl::jaas::Entry]|
     -> Result<Option<(String, String)>, ConfigError> {
        match entries
            .iter()
            .find(|e| e.module.ends_with("Krb5LoginModule"))
        {
            Some(e) => {
                let k =
                    kerberos(e, jvm).map_err(|w| p.invalid(KEY, &file, &format!("{name}: {w}")))?;
                Ok(Some((k.principal, k.keytab)))
            }
            None => Ok(None),
        }
    };
    let kerberos_server = krb(&sname, &server)?;
    let kerberos_learner = krb(&lname, &learner)?;
    // As ZooKeeper: users only from DigestLoginModule entries, and none if another module
    // is in the section.
    let mut users = BTreeMap::new();
    if server
        .iter()
        .all(|e| e.module.ends_with(".DigestLoginModule"))
    {
        for e in &server {
            for (k, v) in &e.options {
                if let Some(u) = k.strip_prefix("user_") {
                    users.insert(u.to_string(), v.clone());
                }
            }
        }
    }
    let creds = learner.iter().find_map(|e| {
        Some((
            e.option("username")?.to_string(),
            e.option("password")?.to_string(),
        ))
    });
    if creds.is_none() && kerberos_learner.is_none() && learner_require {
        return Err(p.invalid(
            KEY,
            &file,
            &format!("its {lname} section has no username and password"),
        ));
    }
    Ok(Some(crate::sasl::quorum::QuorumAuth {
        learner_require,
        server_require,
        learner: creds,
        users,
        kerberos_server,
        kerberos_learner,
        service_principal: p
            .text("quorum.auth.kerberos.servicePrincipal")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "zkquorum/localhost".to_string()),
        hosts: Vec::new(),
    }))
}

/// The JAAS server section, when the JVM properties name a JAAS file that has it.
fn server_section(
    p: &Props,
    jvm: &BTreeMap<String, String>,
) -> Result<Option<SaslServerSettings>, ConfigError> {
    const KEY: &str = "java.security.auth.login.config";
    let Some(file) = jvm.get(KEY).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let section = p
        .text("sasl.serverconfig")
        .or_else(|| jvm.get("zookeeper.sasl.serverconfig").cloned())
        .unwrap_or_else(|| "Server".to_string());
    let bad = |why: String| p.invalid(KEY, file, &why);
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let sections = crate::sasl::jaas::parse(&text, jvm).map_err(bad)?;
    let Some(entries) = sections.get(&section) else {
        // As ZooKeeper: a JAAS file without the section leaves SASL off.
        return Ok(None);
    };
    let kerberos = match entries
        .iter()
        .find(|e| e.module.ends_with("Krb5LoginModule"))
    {
        Some(e) => Some(kerberos(e, jvm).map_err(|w| bad(format!("{section}: {w}")))?),
        None => None,
    };
    let mut users = BTreeMap::new();
    for e in entries {
        for (k, v) in &e.options {
            if let Some(u) = k.strip_prefix("user_") {
                users.insert(u.to_string(), v.clone());
            }
        }
    }
    Ok(Some(SaslServerSettings {
        jaas_file: file.clone(),
        section,
        users,
        kerberos,
        super_password: p
            .text("SASLAuthenticationProvider.superPassword")
            .or_else(|| {
                jvm.get("zookeeper.SASLAuthenticationProvider.superPassword")
                    .cloned()
            }),
    }))
}
