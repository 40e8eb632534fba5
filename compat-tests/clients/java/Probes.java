import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;

/** What the probes (TlsProbe, SaslProbe) print the same way: ACLs and whoAmI identities. */
final class Probes {
    private Probes() {}

    /** scheme:id=perms, in the server's order. */
    static String acls(List<ACL> l) {
        List<String> s = new ArrayList<>();
        for (ACL a : l) {
            s.add(a.getId().getScheme() + ":" + a.getId().getId() + "=" + a.getPerms());
        }
        return String.join(" | ", s);
    }

    /** The whoAmI line: scheme=user, sorted (the server's order is a hash set's). */
    static String whoAmI(ZooKeeper zk) throws Exception {
        List<String> who = new ArrayList<>();
        for (ClientInfo i : zk.whoAmI()) {
            who.add(i.getAuthScheme() + "=" + i.getUser());
        }
        Collections.sort(who);
        return "WHOAMI " + String.join(" ; ", who);
    }

    /** The user of the caller's identity in `scheme`, or null. */
    static String user(ZooKeeper zk, String scheme) throws Exception {
        String me = null;
        for (ClientInfo i : zk.whoAmI()) {
            if (i.getAuthScheme().equals(scheme)) {
                me = i.getUser();
            }
        }
        return me;
    }
}
