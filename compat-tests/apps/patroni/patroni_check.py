#!/usr/bin/python3
"""Patroni + PostgreSQL 15 on a ZooKeeper service (called by run.sh, which documents the usage).

    patroni_check.py <zk-connect> <pg1,pg2,api1,api2> <workdir> [zk-pid]

What Patroni needs from ZooKeeper, and what each step therefore exercises:
  * the leader lock /service/<scope>/leader is an EPHEMERAL znode created with create(); only one
    create can win, and it disappears when the owner's session expires (crash) or is closed
    (clean shutdown: Patroni closes its session to drop the lock);
  * /service/<scope>/members/<name> are ephemeral znodes of the same sessions, updated with set();
  * /initialize (create race at bootstrap), /config, /status, /history are persistent znodes;
  * child watches on /service/<scope> and /members wake Patroni up when something changes;
  * Patroni's kazoo client pings every ~1 s and reconnects to another server of the connect string
    when one goes away, and must keep its session (and so its ephemerals) across that move.

Steps (each printed as `STEP <name> ...` and `  ok <name> (<s> s)`; a failure prints
`FAIL <name>: <reason>`, the tails of the logs, and exits 1):
  bootstrap  two Patroni members started together: one leader, one streaming replica, seen in the
             REST API, in pg_stat_replication, and in ZooKeeper through our own kazoo client;
  replicate  rows written on the leader (psql over TCP) are read on the replica;
  failover   the leader "node" crashes (SIGKILL, together with the optional ZooKeeper server); the
             replica must be promoted once the dead session expires, and take writes;
  rejoin     the old leader's Patroni starts again and must come back as a streaming replica of
             the new leader (pg_rewind when needed), with the rows written after the failover;
  cleanup    both Patroni stopped cleanly (the leader lock must vanish with the closed session),
             our znodes deleted.
"""
import ctypes
import json
import re
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

PG_BIN = '/usr/lib/postgresql/15/bin'
PATRONI = '/usr/bin/patroni'
PATRONICTL = '/usr/bin/patronictl'
PSQL = '/usr/bin/psql'
NAMESPACE = '/service/'

# Patroni timing: failover happens ttl (= ZooKeeper session timeout) after the leader's last
# heartbeat, so keep it short. Patroni wants loop_wait + 2 * retry_timeout <= ttl.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 20, 2, 9

T0 = time.monotonic()


class CheckFailed(Exception):
    pass


class NotYet(Exception):
    """Raised by a probe whose condition does not hold (yet); the message says why."""


def log(msg):
    print(msg, flush=True)


def wait_for(what, timeout, probe, interval=0.5):
    """Call probe() until it returns without raising; bounded by timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except CheckFailed:
            raise
        except (NotYet, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
            last = str(e) or type(e).__name__
        except Exception as e:  # kazoo connection errors while ZooKeeper servers come and go
            last = '%s: %s' % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise CheckFailed('%s: not reached within %d s (last: %s)' % (what, timeout, last))
        time.sleep(interval)


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(state, ppid) of a process, or None if it does not exist."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(')') + 2:].split()
    return fields[0], int(fields[1])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != 'Z'


def children(pid):
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pid:
                out.append(int(d))
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def sigkill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def reaper_main(pidfile, logfile, cfg, cwd):
    """`--reaper` mode: run one Patroni as postgres under a process that reaps its orphans.

    Patroni starts the postmaster detached (double fork) so that it survives Patroni; it is then
    an orphan. PID 1 of the project's machines does not reap orphans, and a zombie postmaster
    passes Patroni's "is the PID in postmaster.pid still running" test (psutil), which would
    stall the restart of a crashed member. So this process makes itself the child subreaper of
    the Patroni it starts: the postmaster (and, after a crash, its backends) are reparented to it
    and reaped. It exits once every descendant is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit('prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d' % ctypes.get_errno())

    # If the check itself dies without cleaning up (SIGKILL, say), take this member down with it
    # rather than leave Patroni and PostgreSQL running on the caller's ports.
    def orphaned(_signum, _frame):
        sigkill(descendants(os.getpid()))
    parent = os.getppid()
    signal.signal(signal.SIGHUP, orphaned)
    libc.prctl(1, signal.SIGHUP, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        orphaned(None, None)
    env = {'PATH': '/usr/bin:/bin', 'HOME': cwd, 'LC_ALL': 'C.UTF-8', 'LANG': 'C.UTF-8',
           'PYTHONUNBUFFERED': '1'}
    with open(logfile, 'ab') as out:
        p = subprocess.Popen([PATRONI, cfg], user='postgres', group='postgres', extra_groups=[],
                             cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    with open(pidfile + '.tmp', 'w') as f:
        f.write('%d\n' % p.pid)
    os.rename(pidfile + '.tmp', pidfile)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return
        except InterruptedError:
            pass


class Node:
    """One Patroni member: its configuration, its processes, its PostgreSQL."""

    def __init__(self, name, pg_port, api_port, work, scope, connect):
        self.name, self.pg_port, self.api_port = name, pg_port, api_port
        self.dir = os.path.join(work, name)
        self.data_dir = os.path.join(self.dir, 'data')
        self.cfg = os.path.join(self.dir, 'patroni.yml')
        self.patroni_log = os.path.join(self.dir, 'patroni.log')
        self.pg_log = os.path.join(self.dir, 'pglog', 'postgresql.log')
        self.reaper = None       # Popen of the reaper process
        self.patroni_pid = None
        self.starts = 0
        os.mkdir(self.dir, 0o700)
        os.chown(self.dir, *postgres_ids())
        self._write_config(scope, connect)

    def _write_config(self, scope, connect):
        # JSON is YAML: no YAML writer needed.
        conf = {
            'scope': scope,
            'namespace': NAMESPACE,
            'name': self.name,
            # kazoo's requests and watch events, for the rejoin step's diagnosis
            'log': {'level': 'INFO', 'loggers': {'kazoo.client': 'DEBUG'}},
            'restapi': {'listen': '127.0.0.1:%d' % self.api_port,
                        'connect_address': '127.0.0.1:%d' % self.api_port},
            # the connect string as given (Patroni hands it to kazoo; a /chroot suffix works too)
            'zookeeper': {'hosts': connect},
            'bootstrap': {
                # written to /service/<scope>/config by the member that wins the /initialize race
                'dcs': {
                    'ttl': TTL, 'loop_wait': LOOP_WAIT, 'retry_timeout': RETRY_TIMEOUT,
                    'maximum_lag_on_failover': 1048576,
                    'postgresql': {
                        'use_pg_rewind': True,
                        'use_slots': True,
                        'parameters': {
                            'wal_level': 'replica', 'hot_standby': 'on', 'wal_log_hints': 'on',
                            'max_wal_senders': 5, 'max_replication_slots': 5,
                            'wal_keep_size': '64MB', 'max_connections': 30,
                        },
                    },
                },
                'initdb': [{'encoding': 'UTF8'}],
            },
            'postgresql': {
                'listen': '127.0.0.1:%d' % self.pg_port,
                'connect_address': '127.0.0.1:%d' % self.pg_port,
                'data_dir': self.data_dir,
                'bin_dir': PG_BIN,
                'pgpass': os.path.join(self.dir, 'pgpass'),
                'authentication': {
                    'superuser': {'username': 'postgres', 'password': 'patroni-check'},
                    'replication': {'username': 'replicator', 'password': 'patroni-check'},
                },
                'parameters': {
                    # our own socket directory (not /var/run/postgresql) and log file
                    'unix_socket_directories': self.dir,
                    'shared_buffers': '16MB',
                    'logging_collector': 'on',
                    'log_directory': os.path.join(self.dir, 'pglog'),
                    'log_filename': 'postgresql.log',
                    # a test on a shared machine: no need to reach the disk (the "crash" below
                    # kills processes, the page cache survives)
                    'fsync': 'off',
                },
                'pg_hba': [
                    'local all all trust',
                    'local replication all trust',
                    'host all all 127.0.0.1/32 trust',
                    'host replication all 127.0.0.1/32 trust',
                ],
                # if pg_rewind cannot bring the old leader back, let Patroni re-clone it
                'remove_data_directory_on_rewind_failure': True,
                'remove_data_directory_on_diverged_timelines': True,
            },
        }
        with open(self.cfg, 'w') as f:
            json.dump(conf, f, indent=1)
        os.chown(self.cfg, *postgres_ids())

    # -- processes

    def start(self):
        self.starts += 1
        pidfile = os.path.join(self.dir, 'patroni.pid.%d' % self.starts)
        with open(self.patroni_log, 'ab') as out:
            out.write(b'---- patroni start #%d by the check\n' % self.starts)
        with open(self.patroni_log, 'ab') as err:
            self.reaper = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), '--reaper', pidfile, self.patroni_log,
                 self.cfg, self.dir],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True)

        def started():
            if self.reaper.poll() is not None:
                raise CheckFailed('%s: Patroni launcher exited with status %s'
                                  % (self.name, self.reaper.returncode))
            with open(pidfile) as f:
                return int(f.read())
        self.patroni_pid = wait_for('%s Patroni started' % self.name, 10, started, 0.1)

    def crash(self):
        """The leader's machine dies: Patroni, the postmaster and all its backends get SIGKILL at
        once. Nothing gets a chance to clean up, in particular Patroni cannot release the leader
        lock: the other member may take over only when ZooKeeper expires the dead session (ttl),
        which is what a failover with a ZooKeeper DCS relies on. (A clean stop would delete the
        lock at once and test much less.)"""
        # everything under our reaper: Patroni, the postmaster (reparented to the reaper), backends
        victims = descendants(self.reaper.pid)
        sigkill(victims)
        try:  # the reaper exits once it has reaped them all
            self.reaper.wait(10)
        except subprocess.TimeoutExpired:
            raise CheckFailed('%s: processes still there 10 s after SIGKILL' % self.name)
        self.reaper = None
        return victims

    def stop(self, timeout=40):
        """Clean stop (SIGTERM to Patroni, which stops PostgreSQL); SIGKILL what is left after
        timeout. Returns True if the clean stop worked."""
        if self.reaper is None:
            return True
        clean = True
        if self.patroni_pid and alive(self.patroni_pid):
            os.kill(self.patroni_pid, signal.SIGTERM)
        try:
            self.reaper.wait(timeout)
        except subprocess.TimeoutExpired:
            clean = False
            self.kill()
        self.reaper = None
        return clean

    def kill(self):
        """SIGKILL everything of this node, by PID: Patroni, postmaster and its children, and the
        reaper (which otherwise waits for them)."""
        if self.reaper is None:
            return
        sigkill(descendants(self.reaper.pid))
        try:
            self.reaper.wait(10)
        except subprocess.TimeoutExpired:
            sigkill(children(self.reaper.pid) + [self.reaper.pid])
            self.reaper.wait(10)
        self.reaper = None

    # -- REST API and SQL

    def api(self, path):
        url = 'http://127.0.0.1:%d%s' % (self.api_port, path)
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:  # e.g. 503 from /primary: the body is still the status
            return json.loads(e.read().decode())

    def psql(self, sql, check=True):
        """Run SQL over TCP on 127.0.0.1; returns stdout (unaligned, tuples only)."""
        env = dict(os.environ, PGCONNECT_TIMEOUT='3', PGPASSWORD='patroni-check')
        r = subprocess.run([PSQL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-w',
                            '-h', '127.0.0.1', '-p', str(self.pg_port), '-U', 'postgres',
                            '-d', 'postgres', '-c', sql],
                           capture_output=True, text=True, timeout=20, env=env)
        if check and r.returncode != 0:
            raise NotYet('psql on %s: %s' % (self.name, r.stderr.strip() or r.returncode))
        return r.stdout.strip() if check else r

    def tail(self):
        for path, n in ((self.patroni_log, 40), (self.pg_log, 25)):
            log('---- last %d lines of %s' % (n, path))
            try:
                with open(path, errors='replace') as f:
                    for line in f.readlines()[-n:]:
                        print('  | ' + line.rstrip(), flush=True)
            except OSError as e:
                log('  (%s)' % e)


def postgres_ids():
    import pwd
    pw = pwd.getpwnam('postgres')
    return pw.pw_uid, pw.pw_gid


# ---------------------------------------------------------------- ZooKeeper view

class ZkView:
    """Our own kazoo client on the same connect string: what Patroni wrote, as ZooKeeper has it."""

    def __init__(self, connect, scope):
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry
        self.base = NAMESPACE + scope
        self.zk = KazooClient(hosts=connect, timeout=10.0,
                              connection_retry=KazooRetry(max_tries=-1, max_delay=1),
                              command_retry=KazooRetry(max_tries=5, max_delay=1, deadline=10))
        self.zk.start(timeout=15)

    def get(self, rel):
        """(data, stat) of /service/<scope>/<rel>, or (None, None) if it does not exist."""
        from kazoo.exceptions import NoNodeError
        try:
            data, stat = self.zk.retry(self.zk.get, self.base + rel)
            return data.decode(), stat
        except NoNodeError:
            return None, None

    def members(self):
        """{name: (member json, stat)} from /service/<scope>/members."""
        from kazoo.exceptions import NoNodeError
        try:
            names = self.zk.retry(self.zk.get_children, self.base + '/members')
        except NoNodeError:
            return {}
        out = {}
        for n in names:
            data, stat = self.get('/members/' + n)
            if data is not None:
                out[n] = (json.loads(data), stat)
        return out

    def leader(self):
        """(name, session id) from the /leader znode, or (None, None)."""
        data, stat = self.get('/leader')
        return (data, stat.ephemeralOwner) if data is not None else (None, None)

    def delete_scope(self):
        self.zk.retry(self.zk.delete, self.base, recursive=True)

    def close(self):
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:
            pass


# ---------------------------------------------------------------- the scenario

def role_of(node):
    st = node.api('/patroni')
    return st.get('role'), st.get('state'), st


def is_primary_role(role):
    return role in ('master', 'primary')   # Patroni 3.0 says "master", 4.x "primary"


def check_cluster_api(node, leader, replica):
    """GET /cluster (Patroni's view, loaded from ZooKeeper): leader and replica, both running."""
    c = node.api('/cluster')
    got = {m['name']: (m['role'], m['state']) for m in c.get('members', [])}
    want = {leader.name: ('leader', 'running'), replica.name: ('replica', 'running')}
    if got != want:
        raise NotYet('/cluster on %s says %s, want %s' % (node.name, got, want))


def check_streaming(leader, replica):
    """The primary streams WAL to the replica (Patroni sets application_name to the member name)."""
    out = leader.psql("SELECT application_name || ':' || state FROM pg_stat_replication")
    if '%s:streaming' % replica.name not in out.split():
        raise NotYet('pg_stat_replication on %s: %r' % (leader.name, out))
    out = replica.psql('SELECT pg_is_in_recovery(), status FROM pg_stat_wal_receiver')
    if out != 't|streaming':
        raise NotYet('wal receiver on %s: %r' % (replica.name, out))


def check_zk_members(zk, names, leader, leader_session=None):
    """The ZooKeeper side: /leader names the leader and is owned by the same session as the
    leader's /members entry; /members holds exactly `names`, all ephemeral, with the right
    PostgreSQL ports in their conn_url."""
    lname, lsession = zk.leader()
    if lname != leader.name:
        raise NotYet('/leader znode is %r, want %r' % (lname, leader.name))
    if not lsession:
        raise CheckFailed('/leader znode is not ephemeral (ephemeralOwner 0)')
    if leader_session is not None and lsession != leader_session:
        raise NotYet('/leader owned by session 0x%x, want 0x%x' % (lsession, leader_session))
    members = zk.members()
    if set(members) != {n.name for n in names}:
        raise NotYet('/members has %s, want %s' % (sorted(members), sorted(n.name for n in names)))
    for n in names:
        data, stat = members[n.name]
        if not stat.ephemeralOwner:
            raise CheckFailed('/members/%s is not ephemeral' % n.name)
        if ':%d/' % n.pg_port not in data.get('conn_url', ''):
            raise CheckFailed('/members/%s conn_url is %r' % (n.name, data.get('conn_url')))
    if members[leader.name][1].ephemeralOwner != lsession:
        raise NotYet('/leader session 0x%x differs from /members/%s session 0x%x'
                     % (lsession, leader.name, members[leader.name][1].ephemeralOwner))
    return lsession


def count_rows(node, phase):
    return int(node.psql("SELECT count(*) FROM patroni_check WHERE phase = '%s'" % phase))


def wait_rows(node, phase, want, timeout):
    def probe():
        n = count_rows(node, phase)
        if n != want:
            raise NotYet('%s has %d %s rows, want %d' % (node.name, n, phase, want))
    wait_for('%d %s rows on %s' % (want, phase, node.name), timeout, probe)


def insert_rows(node, phase, n):
    node.psql("INSERT INTO patroni_check (phase, n) SELECT '%s', g FROM generate_series(1, %d) g"
              % (phase, n))


class Scenario:
    def __init__(self, connect, ports, work, zk_pid):
        self.connect, self.work, self.zk_pid = connect, work, zk_pid
        # unique per run, so that runs can share one ZooKeeper service
        self.scope = 'ferrozk-check-%d-%d' % (os.getpid(), int(time.time()))
        self.nodes = [Node('n1', ports[0], ports[2], work, self.scope, connect),
                      Node('n2', ports[1], ports[3], work, self.scope, connect)]
        self.zk = None
        self.leader = self.replica = None
        self.leader_session = None

    def step(self, name, fn):
        log('STEP %s ...' % name)
        t = time.monotonic()
        try:
            fn()
        except CheckFailed as e:
            raise CheckFailed('%s: %s' % (name, e))
        except Exception as e:
            raise CheckFailed('%s: %s: %s' % (name, type(e).__name__, e))
        log('  ok %s (%.1f s)' % (name, time.monotonic() - t))

    def bootstrap(self):
        self.zk = ZkView(self.connect, self.scope)
        # Both members start together: they race to create /initialize; the winner runs initdb and
        # takes the leader lock, the other one clones it with pg_basebackup.
        for n in self.nodes:
            n.start()

        def roles():
            r = {n.name: role_of(n) for n in self.nodes}
            prim = [n for n in self.nodes if is_primary_role(r[n.name][0]) and r[n.name][1] == 'running']
            repl = [n for n in self.nodes if r[n.name][0] == 'replica' and r[n.name][1] == 'running']
            if len(prim) != 1 or len(repl) != 1:
                raise NotYet('roles: %s' % {k: v[:2] for k, v in r.items()})
            return prim[0], repl[0]
        self.leader, self.replica = wait_for('one running primary and one running replica', 90, roles)
        log('  leader %s, replica %s' % (self.leader.name, self.replica.name))
        wait_for('replica streaming', 30, lambda: check_streaming(self.leader, self.replica))
        wait_for('/cluster', 20, lambda: check_cluster_api(self.replica, self.leader, self.replica))
        session = wait_for('leader and members in ZooKeeper', 20,
                           lambda: check_zk_members(self.zk, self.nodes, self.leader))
        log('  ZooKeeper: /leader = %s (session 0x%x), /members = n1, n2' % (self.leader.name, session))
        # /initialize holds the system identifier of the cluster that won the race; /config the
        # bootstrap.dcs settings.
        init, _ = self.zk.get('/initialize')
        sysid = self.leader.psql('SELECT system_identifier FROM pg_control_system()')
        if init != sysid:
            raise CheckFailed('/initialize is %r, the leader system identifier is %r' % (init, sysid))
        cfg, _ = self.zk.get('/config')
        cfg = json.loads(cfg or '{}')
        if cfg.get('ttl') != TTL or cfg.get('loop_wait') != LOOP_WAIT:
            raise CheckFailed('/config is %r' % cfg)
        # patronictl reads the same znodes through its own kazoo client
        r = subprocess.run([PATRONICTL, '-c', self.leader.cfg, 'list'], capture_output=True,
                           text=True, timeout=30)
        for line in r.stdout.rstrip().splitlines():
            log('  ' + line)
        rows = [l for l in r.stdout.splitlines() if '| ' + self.leader.name + ' ' in l]
        if r.returncode != 0 or not rows or 'Leader' not in rows[0] \
                or ('| %s ' % self.replica.name) not in r.stdout:
            raise CheckFailed('patronictl list (status %d): %s' % (r.returncode, r.stderr.strip()))

    def replicate(self):
        self.leader.psql('CREATE TABLE patroni_check (id serial PRIMARY KEY, phase text NOT NULL, '
                         'n int NOT NULL, at timestamptz NOT NULL DEFAULT now())')
        insert_rows(self.leader, 'bootstrap', 100)
        wait_rows(self.replica, 'bootstrap', 100, 30)
        # and the replica is a read-only standby
        r = self.replica.psql("INSERT INTO patroni_check (phase, n) VALUES ('bad', 0)", check=False)
        if r.returncode == 0 or 'read-only' not in r.stderr:
            raise CheckFailed('write on the replica: status %d %s' % (r.returncode, r.stderr.strip()))

    def failover(self):
        old, new = self.leader, self.replica
        old_session = self.zk.leader()[1]
        timeline = int(new.api('/patroni').get('timeline', 0))
        t = time.monotonic()
        victims = old.crash()
        if self.zk_pid:
            sigkill([self.zk_pid])
            log('  killed ZooKeeper server pid %d' % self.zk_pid)
        log('  crashed %s (SIGKILL to pids %s)' % (old.name, ' '.join(map(str, victims))))
        # The old leader's session must expire (after ttl), which deletes /leader and
        # /members/<old>; then the replica takes the lock and promotes its PostgreSQL.

        def promoted():
            role, state, st = role_of(new)
            if not is_primary_role(role) or state != 'running':
                raise NotYet('%s is %s/%s' % (new.name, role, state))
            return st
        st = wait_for('%s promoted' % new.name, TTL + 60, promoted)
        took = time.monotonic() - t
        log('  %s promoted %.1f s after the crash (ttl %d s)' % (new.name, took, TTL))
        # The lock may only go when the session times out: the negotiated timeout is ttl (the
        # servers allow 2..20 ticks), counted from the last ping (every ~1 s) and rounded to a tick.
        # Much earlier means the server expired the session early.
        if took < TTL - 5:
            raise CheckFailed('promoted only %.1f s after the crash: the dead leader session '
                              'expired before its %d s timeout' % (took, TTL))

        def zk_state():
            name, session = self.zk.leader()
            if name != new.name or session == old_session:
                raise NotYet('/leader is %r (session 0x%x)' % (name, session or 0))
            members = self.zk.members()
            # /members/<old> went with the expired session, like the old /leader did
            if set(members) != {new.name}:
                raise NotYet('/members has %s, want only %s' % (sorted(members), new.name))
            return session
        session = wait_for('new leader in ZooKeeper', 20, zk_state)
        self.leader_session = session
        log('  ZooKeeper: /leader = %s (session 0x%x, was 0x%x), /members = %s'
            % (new.name, session, old_session, new.name))
        if int(st.get('timeline', 0)) <= timeline:
            raise CheckFailed('timeline did not advance on promotion: %s -> %s'
                              % (timeline, st.get('timeline')))
        if new.psql('SELECT pg_is_in_recovery()') != 'f':
            raise CheckFailed('%s is still in recovery' % new.name)
        insert_rows(new, 'after-failover', 50)
        if count_rows(new, 'after-failover') != 50 or count_rows(new, 'bootstrap') != 100:
            raise CheckFailed('rows on the new leader are wrong')
        self.leader, self.replica = new, old

    def rejoin(self):
        old, leader = self.replica, self.leader
        # Only what the old leader's Patroni logs from now on (its log is appended to).
        log_from = os.path.getsize(old.patroni_log) if os.path.exists(old.patroni_log) else 0
        old.start()
        started = time.monotonic()
        nudged = []

        def nudge_if_stuck():
            # Patroni 3.0.2 (dcs/zookeeper.py, _cluster_loader) sets _fetch_cluster from the
            # leader's member lookup at the end of a cluster load, which drops a /members child
            # watch that fired during that load: the old leader can then keep a cached copy of
            # the new leader's member data from before its post-promote checkpoint and wait for
            # that checkpoint forever. Only when ZooKeeper holds the new data and the old
            # leader's kazoo log shows the watch event delivered after its last arming (so the
            # server did its part) is /config rewritten with its own bytes: its data watch makes
            # every Patroni load the cluster again. An armed watch with no event after it while
            # the data changed is ZooKeeper's fault, and fails the check.
            if nudged or time.monotonic() - started < 10:
                return
            with open(old.patroni_log, errors='replace') as f:
                f.seek(log_from)
                text = f.read()
            if 'Waiting for checkpoint on %s' % leader.name not in text:
                return
            published = self.zk.members().get(leader.name)
            if not published or 'checkpoint_after_promote' in published[0]:
                return
            arm = event = -1
            for i, line in enumerate(text.splitlines()):
                if re.search(r"Sending request\(xid=\d+\): GetChildren\(path='[^']*/members/?', watcher=<bound method ZooKeeper\.cluster_watcher", line):
                    arm = i
                elif re.search(r"Received EVENT: Watch\(type=4, state=3, path='[^']*/members/?'\)", line):
                    event = i
            if event <= arm:
                raise CheckFailed('%s waits for a checkpoint %s has published, and ZooKeeper did '
                                  'not deliver the /members child watch armed before the change'
                                  % (old.name, leader.name))
            data, stat = self.zk.get('/config')
            if data is not None:
                self.zk.zk.set(self.zk.base + '/config', data.encode(), version=stat.version)
                nudged.append(True)
                log('  %s waited for a checkpoint %s had published, its /members watch event '
                    'delivered and dropped by Patroni; /config rewritten to wake it'
                    % (old.name, leader.name))

        def is_replica():
            role, state, _ = role_of(old)
            if role != 'replica' or state != 'running':
                nudge_if_stuck()
                raise NotYet('%s is %s/%s' % (old.name, role, state))
        wait_for('%s running as a replica' % old.name, 90, is_replica)
        wait_for('%s streaming from %s' % (old.name, leader.name), 30,
                 lambda: check_streaming(leader, old))
        # rows written while it was down, then rows written now
        wait_rows(old, 'after-failover', 50, 30)
        wait_rows(old, 'bootstrap', 100, 5)
        insert_rows(leader, 'after-rejoin', 25)
        wait_rows(old, 'after-rejoin', 25, 30)
        wait_for('/cluster', 20, lambda: check_cluster_api(leader, leader, old))
        # the new leader kept its lock (same session) while the old one came back
        wait_for('leader and members in ZooKeeper', 20,
                 lambda: check_zk_members(self.zk, self.nodes, leader, self.leader_session))
        with open(old.patroni_log, errors='replace') as f:
            f.seek(log_from)
            text = f.read()
        rewound = 'running pg_rewind' in text
        # The kazoo log the stuck-rejoin diagnosis reads must be there.
        events = len(re.findall(r"Received EVENT: Watch\(type=4, state=3, path='[^']*/members/?'\)", text))
        arms = len(re.findall(r"Sending request\(xid=\d+\): GetChildren\(path='[^']*/members/?', watcher=<bound method ZooKeeper\.cluster_watcher", text))
        if not arms:
            raise CheckFailed("no kazoo request logged in %s's Patroni log" % old.name)
        log('  %s rejoined as a replica of %s (%s; its /members watch armed %d times, fired %d)'
            % (old.name, leader.name, 'after pg_rewind' if rewound else 'no pg_rewind needed',
               arms, events))

    def cleanup(self):
        # replica first, then the leader; a clean stop of the leader's Patroni releases the lock by
        # closing its ZooKeeper session, so /leader must be gone right away (well before ttl).
        for n in (self.replica, self.leader):
            if not n.stop():
                raise CheckFailed('%s did not stop within 40 s after SIGTERM' % n.name)

        def no_leader():
            name, _ = self.zk.leader()
            if name is not None:
                raise NotYet('/leader still names %s' % name)
        wait_for('/leader removed after the clean stop', 10, no_leader)
        self.zk.delete_scope()
        self.zk.close()

    def stop_all(self):
        for n in self.nodes:
            try:
                if not n.stop(timeout=15):
                    log('  %s: killed after 15 s' % n.name)
            except Exception as e:
                log('  stopping %s: %s' % (n.name, e))
                n.kill()
        if self.zk:
            self.zk.close()


def main(argv):
    if len(argv) >= 2 and argv[1] == '--reaper':
        reaper_main(*argv[2:6])
        return 0
    # our kazoo client's warnings (reconnects while a ZooKeeper server is killed), indented
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format='  (kazoo) %(message)s')
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    connect, ports, work = argv[1], [int(p) for p in argv[2].split(',')], argv[3]
    zk_pid = int(argv[4]) if len(argv) == 5 else None

    def on_signal(signum, _frame):
        raise CheckFailed('interrupted by signal %d' % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    s = Scenario(connect, ports, work, zk_pid)
    try:
        s.step('bootstrap', s.bootstrap)
        s.step('replicate', s.replicate)
        s.step('failover', s.failover)
        s.step('rejoin', s.rejoin)
        s.step('cleanup', s.cleanup)
    except CheckFailed as e:
        log('FAIL %s' % e)
        for n in s.nodes:
            n.tail()
        log('stopping what the check started')
        s.stop_all()
        return 1
    log('PATRONI CHECK PASSED in %d s' % round(time.monotonic() - T0))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
