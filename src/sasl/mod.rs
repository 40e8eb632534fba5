//! SASL as ZooKeeper runs it: the JAAS files it reads and the DIGEST-MD5 exchange.

pub mod digest;
pub mod gssapi;
pub mod jaas;
pub mod quorum;

/// The id a SASL authentication gives, as ZooKeeper's server callback handler derives it
/// from the authentication id: a plain name as it is; a Kerberos name `service/host@REALM`
/// without its host or realm when `kerberos.removeHostFromPrincipal` /
/// `kerberos.removeRealmFromPrincipal` say so. With Kerberos (`default_realm` given), a
/// principal of another realm matches no DEFAULT name rule and is kept whole, as in ZooKeeper.
pub fn authorized_id(
    authcid: &str,
    remove_host: bool,
    remove_realm: bool,
    default_realm: Option<&str>,
) -> String {
    let Some((before, realm)) = authcid.split_once('@') else {
        return authcid.to_string();
    };
    if default_realm.is_some_and(|d| d != realm) {
        return authcid.to_string();
    }
    let (service, host) = match before.split_once('/') {
        Some((svc, host)) => (svc, Some(host)),
        None => (before, None),
    };
    let mut id = service.to_string();
    if let Some(h) = host.filter(|_| !remove_host) {
        id.push('/');
        id.push_str(h);
    }
    if !remove_realm {
        id.push('@');
        id.push_str(realm);
    }
    id
}
