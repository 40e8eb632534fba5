import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A small TCP forwarder 127.0.0.1:port -> target, used to cut a client's
 * connection on demand (dropAll) and keep it from reconnecting (refuse).
 */
public final class TcpProxy implements AutoCloseable {
    private final String targetHost;
    private final int targetPort;
    private final ServerSocket server;
    private final List<Socket[]> pairs = new ArrayList<>();
    private volatile boolean refuse;
    private volatile boolean closed;

    public TcpProxy(String targetHost, int targetPort) throws IOException {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        server.setSoTimeout(200);
        CompatCheck.daemon("proxy-accept", this::acceptLoop);
    }

    public String connectString() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    public void setRefuse(boolean r) {
        refuse = r;
    }

    private void acceptLoop() {
        while (!closed) {
            Socket c;
            try {
                c = server.accept();
            } catch (SocketTimeoutException e) {
                continue;
            } catch (IOException e) {
                return;
            }
            if (refuse) {
                closeQuietly(c);
                continue;
            }
            Socket u;
            try {
                u = new Socket();
                u.connect(new InetSocketAddress(targetHost, targetPort), 5000);
            } catch (IOException e) {
                closeQuietly(c);
                continue;
            }
            Socket[] pair = {c, u};
            synchronized (pairs) {
                pairs.add(pair);
            }
            CompatCheck.daemon("proxy-up", () -> pump(pair, c, u));
            CompatCheck.daemon("proxy-down", () -> pump(pair, u, c));
        }
    }

    private void pump(Socket[] pair, Socket from, Socket to) {
        byte[] buf = new byte[65536];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // connection ended
        } finally {
            closeQuietly(pair[0]);
            closeQuietly(pair[1]);
        }
    }

    public void dropAll() {
        List<Socket[]> copy;
        synchronized (pairs) {
            copy = new ArrayList<>(pairs);
            pairs.clear();
        }
        for (Socket[] p : copy) {
            closeQuietly(p[0]);
            closeQuietly(p[1]);
        }
    }

    @Override
    public void close() {
        closed = true;
        dropAll();
        try {
            server.close();
        } catch (IOException e) {
            // ignore
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // ignore
        }
    }
}
