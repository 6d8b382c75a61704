# TLS distribution next to plain TCP: the same measurements run twice by
# bench/run.sh, once with plain members and a plain observer
# (BENCH_TRANSPORT=tcp), once with members, observer and clusterd on
# `-proto_dist inet_tls` (BENCH_TRANSPORT=tls, BENCH_MEMBER_ARGS and
# BENCH_NODE_EXTRA set). Each run writes its results to
# $BENCH_TMP/tls_bench_<transport>.exs; the tls run then appends the
# comparison to $BENCH_OUT (its section of BENCHMARKS.md).
#
# Measures: cold start to full mesh (every member-to-member link is a TLS
# handshake too), heal after a dropped link, and `clusterd status` end to end
# (a new process: EPMD lookup, one handshake, one call), which shows what one
# handshake of clusterd's costs.

Code.require_file("bench_lib.exs", __DIR__)

Node.set_cookie(String.to_atom(System.get_env("BENCH_COOKIE")))
transport = System.get_env("BENCH_TRANSPORT", "tcp")
rounds = String.to_integer(System.get_env("BENCH_ROUNDS", "5"))
drops = String.to_integer(System.get_env("BENCH_TLS_DROPS", "50"))
tmp = System.get_env("BENCH_TMP")
bin = System.get_env("CLUSTERD_BIN", "priv/clusterd")

defmodule TlsBench do
  # `clusterd status` against a running coordinator, `count` times: process
  # start, config, EPMD lookup, one handshake (TLS first when configured) and
  # the status call. Returns the sorted samples in ms.
  def status_round_trips(bin, cfg, count) do
    for _ <- 1..count do
      t0 = Bench.now_us()
      {_, 0} = System.cmd(bin, ["status", "-c", cfg, "--json"], stderr_to_stdout: true)
      (Bench.now_us() - t0) / 1000
    end
    |> Enum.sort()
  end

  def status_bench(bin, tmp, n, count) do
    names = for i <- 1..n, do: :"s#{i}@127.0.0.1"
    members = Enum.map(names, &Bench.start_member(Atom.to_string(&1), []))
    :ok = Bench.wait_registered(names, 120_000)
    cfg = "#{tmp}/status_#{n}.yaml"
    Bench.write_config(cfg, names, 600_000)
    cd = Bench.start_clusterd(cfg)
    :ok = Bench.wait_until(fn -> Bench.full_mesh?(names) end, System.monotonic_time(:millisecond) + 60_000)
    sorted = status_round_trips(bin, cfg, count)
    Bench.stop_clusterd(cd)
    Enum.each(members, fn {_p, pid} -> Bench.kill(pid) end)

    r = %{bench: "status", count: count, median_ms: Bench.percentile(sorted, 50),
          min_ms: hd(sorted), max_ms: List.last(sorted)}
    Bench.result(r)
    r
  end
end

results = %{
  cold6: Bench.cold_start(6, false, rounds),
  cold20: Bench.cold_start(20, false, rounds),
  heal6: Bench.heal(6, drops),
  status: TlsBench.status_bench(bin, tmp, 3, 20)
}

File.write!(Path.join(tmp, "tls_bench_#{transport}.exs"), inspect(results, limit: :infinity))

if transport == "tls" do
  {tcp, _} = Code.eval_file(Path.join(tmp, "tls_bench_tcp.exs"))
  tls = results

  fmt = fn
    v when is_float(v) -> :erlang.float_to_binary(v, decimals: 1)
    v -> to_string(v)
  end

  row = fn label, key, field ->
    "| #{label} | #{fmt.(Map.fetch!(tcp[key], field))} | #{fmt.(Map.fetch!(tls[key], field))} |"
  end

  md = """
  ## TLS distribution next to plain TCP

  The same members, observer and clusterd, once on plain TCP and once all on
  `-proto_dist inet_tls` (ECDSA P-256 certificates from one CA, `verify_peer`; OTP 25's
  nodes negotiated TLS 1.2 here; clusterd with `node.tls:`). Cold starts have `connect_all false`,
  #{rounds} rounds each; every member-to-member link is a TLS handshake too, so the cold start
  mostly measures the members' own TLS cost. Heal: #{drops} random drops at 6 members, poll
  at 10 minutes. `clusterd status`: a new process each time (start, EPMD lookup, one
  handshake, one call) against a coordinator of 3 members, 20 runs, so the TLS column also
  holds OpenSSL's start-up in the new process (loading its configuration, the certificate
  and the key) besides the handshake between the two OpenSSL ends. In the cold start and
  heal rows most of the difference is the members' own TLS handshakes with each other
  (OTP's `ssl` application), which clusterd only asks for.

  | measure | plain TCP | TLS |
  |---|---|---|
  #{row.("cold start, 6 members, median ms", :cold6, :median_ms)}
  #{row.("cold start, 6 members, max ms", :cold6, :max_ms)}
  #{row.("cold start, 20 members, median ms", :cold20, :median_ms)}
  #{row.("cold start, 20 members, max ms", :cold20, :max_ms)}
  #{row.("heal, 6 members, median ms", :heal6, :median_ms)}
  #{row.("heal, 6 members, p99 ms", :heal6, :p99_ms)}
  #{row.("`clusterd status` end to end, median ms", :status, :median_ms)}
  #{row.("`clusterd status` end to end, min ms", :status, :min_ms)}

  `BENCH_TLS_DROPS` changes the number of drops.
  """

  File.write!(System.fetch_env!("BENCH_OUT"), md)
end
