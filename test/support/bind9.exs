# A real bind9 (named) for the DNS integration tests: one primary zone
# served on one address and port, started in the foreground (-g) as a child
# of the observer through Clusterd.Procs (stopped by pid in the test's
# cleanup), with a working directory under the test's directory. The
# configuration keeps it to itself: `recursion no; dnssec-validation no;
# notify no;` and its managed-keys directory in the test's directory (without
# them named primes the root zone and queries the public root servers), no
# rndc (`controls { };`). The query log is on, in its log file.
#
#   dns = Bind9.start!(ctx, ip: net.gateway, port: 53, records: "svc 5 IN A 10.0.0.1\n")
#   dns = Bind9.set_records!(dns, "...")   # zone file rewritten (serial + 1), SIGHUP, waits for the load
#   dns = Bind9.servfail!(dns)             # the zone becomes an unloaded secondary: SERVFAIL for every name in it
#   dns = Bind9.restore!(dns)              # back to the primary zone with its last records
#   Bind9.stop(dns)                        # by pid
#
# Records are zone-file lines relative to the origin (default
# "cluster.local"), e.g. "ex-cluster-svc.default.svc 5 IN A 10.244.1.10".

defmodule Clusterd.Bind9 do
  import ExUnit.Assertions

  alias Clusterd.{Harness, Procs}

  @doc """
  Starts named. Options: ip: (default "127.0.0.1"), ip6: (also listen on
  this IPv6 address), port: (default a free one), zone: (default
  "cluster.local"), records: (zone lines). Returns a handle map.
  """
  def start!(ctx, opts \\ []) do
    n = System.unique_integer([:positive])
    dir = Path.join(ctx.dir, "bind9-#{n}")
    File.mkdir_p!(dir)

    dns = %{
      dir: dir,
      ip: Keyword.get(opts, :ip, "127.0.0.1"),
      ip6: Keyword.get(opts, :ip6),
      port: Keyword.get_lazy(opts, :port, &Harness.free_port/0),
      zone: Keyword.get(opts, :zone, "cluster.local"),
      records: Keyword.get(opts, :records, ""),
      serial: 1,
      mode: :primary,
      os_pid: nil,
      log: Path.join(dir, "named.log")
    }

    write_conf!(dns)
    write_zone!(dns)

    os_pid =
      Procs.spawn(
        ctx.dir,
        :dns,
        "named-#{n}",
        System.find_executable("named") || "/usr/sbin/named",
        ["-g", "-c", Path.join(dir, "named.conf")] ++ if(dns.ip6, do: [], else: ["-4"]),
        [{"CLUSTERD_TEST_RUN", Harness.run_id()}],
        dns.log
      )

    dns = %{dns | os_pid: os_pid}
    wait_log!(dns, ~r/all zones loaded/)
    wait_log!(dns, ~r/zone #{Regex.escape(dns.zone)}\/IN: loaded serial 1\b/)
    dns
  end

  @doc """
  Replaces the zone's records and reloads; returns the new handle. Waits
  until named has loaded them, unless wait: false (then call wait_loaded!/1).
  """
  def set_records!(dns, records, opts \\ []) do
    dns = %{dns | records: records, serial: dns.serial + 1}
    write_zone!(dns)
    reload!(dns)
    if Keyword.get(opts, :wait, true), do: wait_loaded!(dns)
    dns
  end

  @doc "Waits until named has loaded the handle's serial."
  def wait_loaded!(dns) do
    wait_log!(dns, ~r/zone #{Regex.escape(dns.zone)}\/IN: loaded serial #{dns.serial}\b/)
    dns
  end

  @doc "Makes every name in the zone answer SERVFAIL (an unloaded secondary zone)."
  def servfail!(dns) do
    dns = %{dns | mode: :servfail}
    write_conf!(dns)
    reload!(dns)
    wait_log!(dns, ~r/reloading configuration succeeded/)
    dns
  end

  @doc "Back from servfail!/1: the primary zone with its last records."
  def restore!(dns) do
    dns = %{dns | mode: :primary, serial: dns.serial + 1}
    write_conf!(dns)
    write_zone!(dns)
    reload!(dns)
    wait_log!(dns, ~r/zone #{Regex.escape(dns.zone)}\/IN: loaded serial #{dns.serial}\b/)
    dns
  end

  @doc "Stops named (by pid) and waits for it."
  def stop(dns) do
    Procs.signal(dns.os_pid, "TERM")

    if Procs.wait_exit(dns.os_pid, 10_000) == :timeout do
      Procs.signal(dns.os_pid, "KILL")
      Procs.wait_exit(dns.os_pid, 5_000)
    end

    :ok
  end

  @doc "\"ip:port\" for resolver.nameservers."
  def server(dns), do: "#{dns.ip}:#{dns.port}"

  @doc "Lines of the query log for `name` (each says +T when it came over TCP)."
  def queries(dns, name) do
    File.read!(dns.log)
    |> String.split("\n")
    |> Enum.filter(
      &(String.contains?(&1, "query: #{name} ") or String.contains?(&1, "(#{name})"))
    )
  end

  # ------------------------------------------------------------ internals

  defp reload!(dns) do
    # Several reloads can land in one second; a file mtime that moves
    # forward with the serial makes named see every one of them.
    :ok = Procs.signal(dns.os_pid, "HUP")
  end

  defp write_conf!(dns) do
    listen6 =
      if dns.ip6,
        do: "listen-on-v6 port #{dns.port} { #{dns.ip6}; };",
        else: "listen-on-v6 { none; };"

    zone =
      case dns.mode do
        :primary ->
          ~s(zone "#{dns.zone}" { type primary; file "#{dns.dir}/zone.db"; };)

        :servfail ->
          # A secondary whose primary never answers and that has no copy: not
          # loaded, so named answers SERVFAIL for it.
          ~s(zone "#{dns.zone}" { type secondary; primaries { 127.0.0.1 port 9; }; ) <>
            ~s(file "#{dns.dir}/secondary-#{dns.serial}.db"; };)
      end

    File.write!(Path.join(dns.dir, "named.conf"), """
    options {
      directory "#{dns.dir}";
      listen-on port #{dns.port} { #{dns.ip}; };
      #{listen6}
      recursion no;
      dnssec-validation no;
      notify no;
      querylog yes;
      check-names primary ignore;
      pid-file "#{dns.dir}/named.pid";
      session-keyfile "#{dns.dir}/session.key";
      managed-keys-directory "#{dns.dir}";
    };
    controls { };
    #{zone}
    """)
  end

  defp write_zone!(dns) do
    path = Path.join(dns.dir, "zone.db")

    File.write!(path, """
    $TTL 5
    @ 5 IN SOA ns.dns.#{dns.zone}. hostmaster.#{dns.zone}. #{dns.serial} 7200 1800 86400 5
    @ 5 IN NS ns.dns.#{dns.zone}.
    ns.dns 5 IN A 127.0.0.1
    #{dns.records}
    """)

    mtime = System.os_time(:second) + dns.serial
    File.touch!(path, mtime)
  end

  defp wait_log!(dns, regex) do
    case Harness.wait_until(20_000, fn -> Regex.match?(regex, read(dns.log)) end, 50) do
      {:ok, _} -> :ok
      :timeout -> flunk("named: no #{inspect(regex)} in #{dns.log}:\n#{read(dns.log)}")
    end
  end

  defp read(path) do
    case File.read(path) do
      {:ok, text} -> text
      _ -> ""
    end
  end
end
