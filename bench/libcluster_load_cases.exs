# The cases of bench/libcluster_load_bench.exs (loaded once the observer runs).

defmodule Clusterd.LibclusterLoadBench do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, Harness, JSON}
  alias Clusterd.KubeFixture, as: K
  alias ClusterdBench.LibclusterHost, as: Host

  @pods System.get_env("BENCH_KLC_PODS", "100 1000") |> String.split() |> Enum.map(&String.to_integer/1)
  @k String.to_integer(System.get_env("BENCH_KLC_NODES", "3"))
  @seconds String.to_integer(System.get_env("BENCH_KLC_SECONDS", "60"))
  # bind9 9.18 refuses a zone with more than 100 records of one name and
  # type (max-records-per-type), so the DNS case stops at 100 pods
  @dns_pods System.get_env("BENCH_KLC_DNS_PODS", "100") |> String.split() |> Enum.map(&String.to_integer/1)
  @ebin System.fetch_env!("BENCH_LIBCLUSTER_EBIN")

  setup context, do: {:ok, ctx: Harness.setup_test(context)}

  def record(key, value), do: :persistent_term.put({__MODULE__, key}, value)
  def fetch(key), do: :persistent_term.get({__MODULE__, key}, nil)

  # The fixture's admin API over one kept-alive HTTPS connection (:httpc):
  # a thousand pods in a few seconds, where a curl process each would take
  # a minute.
  defp admin(fx, op, body) do
    req = {~c"#{fx.url}/admin/#{op}", [{~c"authorization", ~c"Bearer #{fx.admin}"}],
           ~c"application/json", :json_encode.encode(body)}

    ssl = [verify: :verify_peer, cacertfile: String.to_charlist(fx.ca),
           server_name_indication: :disable, customize_hostname_check: []]

    {:ok, {{_, 200, _}, _, out}} = :httpc.request(:post, req, [ssl: ssl, timeout: 10_000], [], :bench)
    %{"ok" => true} = JSON.decode!(to_string(out))
  end

  defp ebin_args do
    elixir = :code.lib_dir(:elixir) |> to_string() |> Path.dirname()
    Enum.flat_map([Path.join([elixir, "elixir", "ebin"]), Path.join([elixir, "logger", "ebin"]), @ebin], &["-pa", &1])
  end

  defp ticks(pid) do
    {:ok, s} = File.read("/proc/#{pid}/stat")
    rest = s |> String.split(") ", parts: 2) |> List.last() |> String.split(" ")
    String.to_integer(Enum.at(rest, 11)) + String.to_integer(Enum.at(rest, 12))
  end

  for n <- @pods do
    @n n
    test "api load for #{n} pods, libcluster and clusterd side by side", %{ctx: ctx} do
      n = @n
      {:ok, _} = Application.ensure_all_started(:inets)
      {:ok, _} = Application.ensure_all_started(:ssl)
      :inets.start(:httpc, profile: :bench)
      fx = K.start!(ctx, tokens: ["tok-clusterd", "tok-libcluster"])
      K.service(fx, "myapp", %{"app" => "myapp"})

      for i <- 1..n do
        admin(fx, "pod", %{"name" => "myapp-#{i}", "labels" => %{"app" => "myapp"},
                           "ip" => "127.0.#{2 + div(i, 250)}.#{1 + rem(i, 250)}", "ready" => true})
      end

      sa_cd = K.service_account!(fx, "tok-clusterd")
      sa_lc = Path.join(fx.dir, "serviceaccount-libcluster")
      File.mkdir_p!(sa_lc)
      for f <- ~w(ca.crt namespace), do: File.cp!(Path.join(sa_cd, f), Path.join(sa_lc, f))
      K.write_token!(sa_lc, "tok-libcluster")

      # the name in the fixture certificate (OTP checks it; an IP literal fails
      # its host name check)
      master = "localhost:#{fx.port}"
      members =
        for i <- 1..@k do
          Harness.start_erl(ctx, "klc#{n}_#{i}", args: ebin_args() ++ ["-env", "CLUSTER_DOMAIN", master])
        end

      Enum.each(members, &:erpc.call(&1, Host, :prepare, [], 60_000))

      topo = [
        k8s: [
          strategy: Cluster.Strategy.Kubernetes,
          connect: {:erlang, :is_atom, []},
          disconnect: {:erlang, :is_atom, []},
          config: [
            kubernetes_master: master,
            kubernetes_selector: "app=myapp",
            kubernetes_node_basename: "app",
            kubernetes_service_account_path: sa_lc,
            polling_interval: 5000
          ]
        ]
      ]

      config =
        Harness.write_config(ctx,
          topologies: [
            {"k8s", "kubernetes",
             [kubernetes_selector: "app=myapp", kubernetes_node_basename: "app",
              kubernetes_service_account_path: sa_cd]}
          ]
        )

      # The window starts before either side has made its first request.
      admin(fx, "reset_stats", %{})
      t0 = System.monotonic_time(:millisecond)
      h = Harness.start_clusterd(ctx, config, env: K.in_cluster_env(fx))
      reqs = Enum.map(members, &:erpc.send_request(&1, Host, :start, [topo]))
      Enum.each(reqs, &(:ok = :erpc.receive_response(&1, 60_000)))
      member_pids = Enum.map(members, &Harness.os_pid_of(ctx, &1))
      c0 = Enum.map([h.os_pid | member_pids], &ticks/1)

      # one pod change every 5 s (readiness flips), the same for both sides
      t_end = t0 + @seconds * 1000

      churn =
        Stream.iterate(1, &(&1 + 1))
        |> Enum.reduce_while(0, fn i, acc ->
          left = t_end - System.monotonic_time(:millisecond)

          if left <= 0 do
            {:halt, acc}
          else
            Process.sleep(min(5000, left))

            if System.monotonic_time(:millisecond) < t_end do
              admin(fx, "pod", %{"name" => "myapp-#{rem(i, n) + 1}", "ready" => rem(i, 2) == 0})
              {:cont, acc + 1}
            else
              {:halt, acc}
            end
          end
        end)

      all = K.requests(fx)
      elapsed = (System.monotonic_time(:millisecond) - t0) / 1000
      [cd_ticks | lc_ticks] = Enum.zip_with(c0, Enum.map([h.os_pid | member_pids], &ticks/1), &(&2 - &1))
      red = members |> Enum.map(&:erpc.call(&1, Host, :reductions, [])) |> Enum.sum()
      Enum.each(members, &:erpc.call(&1, Host, :stop, []))
      Harness.stop_clusterd(h)

      side = fn token ->
        rs = Enum.filter(all, &(&1["auth"] == "Bearer " <> token))
        %{requests: length(rs), ok: Enum.count(rs, &(&1["status"] == 200)),
          watches: Enum.count(rs, &(&1["query"]["watch"] not in [nil, "0", "false"])),
          bytes: rs |> Enum.map(&(&1["bytes"] || 0)) |> Enum.sum(),
          paths: rs |> Enum.map(& &1["path"]) |> Enum.uniq()}
      end

      record({:load, n}, %{
        pods: n, k: @k, seconds: elapsed, churn: churn,
        clusterd: Map.put(side.("tok-clusterd"), :cpu_ms, cd_ticks * 10),
        libcluster: side.("tok-libcluster") |> Map.put(:cpu_ms, Enum.sum(lc_ticks) * 10) |> Map.put(:reductions, red)
      })
    end
  end

  # The same for DNS: libcluster's Kubernetes.DNS (A records of a headless
  # service, polling_interval 5000) in K members and clusterd's
  # Kubernetes.DNS at the same interval, against one bind9 whose query log
  # counts every query; each side asks for a name of its own with N records.
  for n <- @dns_pods do
    @n n
    test "dns load for #{n} pods, libcluster and clusterd side by side", %{ctx: ctx} do
      n = @n
      ips = for i <- 1..n, do: "127.0.#{2 + div(i, 250)}.#{1 + rem(i, 250)}"

      records =
        # TTL 5 s: CoreDNS's default for the kubernetes plugin (inet_res caches
        # answers for their TTL)
        for svc <- ~w(svc-cd svc-lc), ip <- ips, into: "", do: "#{svc}.default.svc 5 IN A #{ip}\n"

      dns = Bind9.start!(ctx, records: records)
      cd_name = "svc-cd.default.svc.cluster.local"
      lc_name = "svc-lc.default.svc.cluster.local"

      members =
        for i <- 1..@k, do: Harness.start_erl(ctx, "dlc#{n}_#{i}", args: ebin_args())

      for m <- members do
        :erpc.call(m, Host, :prepare, [], 60_000)
        # libcluster has no resolver address option: the members' own
        # resolver (inet_res, which its default resolver function calls) is
        # pointed at the bench's bind9, as an application would configure it
        # (resolv.conf off first: its servers would be asked as well)
        ns = [{{127, 0, 0, 1}, dns.port}]
        :ok = :erpc.call(m, :inet_db, :res_option, [:resolv_conf, ~c""])
        :ok = :erpc.call(m, :inet_db, :res_option, [:nameservers, ns])
        :ok = :erpc.call(m, :inet_db, :res_option, [:search, []])
        ^ns = :erpc.call(m, :inet_db, :res_option, [:nameservers])
        {:ok, _} = :erpc.call(m, :inet_res, :getbyname, [String.to_charlist(lc_name), :a, 5000])
      end

      topo = [
        k8sdns: [
          strategy: Cluster.Strategy.Kubernetes.DNS,
          connect: {:erlang, :is_atom, []},
          disconnect: {:erlang, :is_atom, []},
          config: [service: lc_name, application_name: "app", polling_interval: 5000]
        ]
      ]

      path = Path.join(ctx.dir, "clusterd-dns.yaml")

      File.write!(path, """
      node:
        name: clusterd@127.0.0.1
        cookie_file: #{ctx.cookie_file}
      resolver:
        nameservers: ["#{Bind9.server(dns)}"]
      topologies:
        k8sdns:
          strategy: Cluster.Strategy.Kubernetes.DNS
          config:
            service: "#{cd_name}."
            application_name: app
            polling_interval: 5000
      """)

      q0 = {length(Bind9.queries(dns, cd_name)), length(Bind9.queries(dns, lc_name))}
      t0 = System.monotonic_time(:millisecond)
      h = Harness.start_clusterd(ctx, path)
      reqs = Enum.map(members, &:erpc.send_request(&1, Host, :start, [topo]))
      Enum.each(reqs, &(:ok = :erpc.receive_response(&1, 60_000)))
      member_pids = Enum.map(members, &Harness.os_pid_of(ctx, &1))
      c0 = Enum.map([h.os_pid | member_pids], &ticks/1)
      Process.sleep(max(0, t0 + @seconds * 1000 - System.monotonic_time(:millisecond)))
      elapsed = (System.monotonic_time(:millisecond) - t0) / 1000
      [cd_ticks | lc_ticks] = Enum.zip_with(c0, Enum.map([h.os_pid | member_pids], &ticks/1), &(&2 - &1))
      cd_q = Bind9.queries(dns, cd_name) |> Enum.drop(elem(q0, 0))
      lc_q = Bind9.queries(dns, lc_name) |> Enum.drop(elem(q0, 1))
      Enum.each(members, &:erpc.call(&1, Host, :stop, []))
      Harness.stop_clusterd(h)

      tcp = fn qs -> Enum.count(qs, &String.contains?(&1, "+T")) end

      record({:dns, n}, %{
        pods: n, k: @k, seconds: elapsed,
        clusterd: %{queries: length(cd_q), tcp: tcp.(cd_q), cpu_ms: cd_ticks * 10},
        libcluster: %{queries: length(lc_q), tcp: tcp.(lc_q), cpu_ms: Enum.sum(lc_ticks) * 10}
      })
    end
  end
end
