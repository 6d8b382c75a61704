# TLS distribution for the integration tests: a CA and node certificates made
# on the spot with `openssl`, an ssl_dist_optfile per node, members started
# with `-proto_dist inet_tls`, and a TLS observer.
#
# The suite's observer runs plain TCP distribution, so it cannot reach TLS
# nodes. The TLS observer is a second, independent judge: a hidden `erl` node
# running inet_tls with its own certificate, started by the test as a port.
# It reads one request per line on stdin (base64 of a term), runs it
# (erpc:call on a member, or net_adm:ping) and answers on stdout. It exits
# when its stdin closes (the test process ends), and on_exit kills it by pid.
# clusterd's own view is never the judge.

defmodule Clusterd.Tls do
  import ExUnit.Assertions

  alias Clusterd.Harness, as: H

  @host "127.0.0.1"
  @reply_prefix "CLUSTERD_OBS "

  # ------------------------------------------------------------ certificates

  @doc """
  A fresh PKI under ctx.dir/tls: the CA `ca` (trusted by everyone) and a
  second CA `other_ca` (trusted by nobody but its own nodes).
  """
  def setup_pki(ctx) do
    dir = Path.join(ctx.dir, "tls")
    File.mkdir_p!(dir)
    pki = %{dir: dir}
    make_ca(pki, "ca")
    make_ca(pki, "other_ca")
    pki
  end

  def ca_cert(pki, ca \\ "ca"), do: Path.join(pki.dir, "#{ca}.crt")

  defp make_ca(pki, name) do
    openssl!(pki, [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", "#{name}.key", "-out", "#{name}.crt", "-subj", "/CN=#{name}", "-days", "30"
    ])
  end

  @doc """
  A certificate for `name` signed by `ca`, whose subjectAltName names the host
  both as DNS and IP (OTP's host name check needs the DNS form, see
  shared/reference/tls-dist.md), or `san`; valid for 30 days, or expired since
  yesterday with expired: true. Returns {certfile, keyfile}.
  """
  def node_cert(pki, name, ca \\ "ca", san \\ nil, expired \\ false) do
    crt = Path.join(pki.dir, "#{name}.crt")
    key = Path.join(pki.dir, "#{name}.key")

    unless File.exists?(crt) do
      File.write!(
        Path.join(pki.dir, "#{name}.ext"),
        "subjectAltName=#{san || "DNS:#{@host},DNS:localhost,IP:#{@host}"}\n"
      )

      openssl!(pki, [
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "#{name}.key", "-out", "#{name}.csr", "-subj", "/CN=#{name}"
      ])

      openssl!(pki, [
        "x509", "-req", "-in", "#{name}.csr", "-CA", "#{ca}.crt", "-CAkey", "#{ca}.key",
        "-CAcreateserial", "-out", "#{name}.crt", "-days", if(expired, do: "-1", else: "30"),
        "-extfile", "#{name}.ext"
      ])
    end

    {crt, key}
  end

  defp openssl!(pki, args) do
    {out, status} = System.cmd("openssl", args, cd: pki.dir, stderr_to_stdout: true)
    assert status == 0, "openssl #{Enum.join(args, " ")} failed:\n#{out}"
    out
  end

  @doc """
  An ssl_dist_optfile for `name` (certificate from `ca`, trusting `ca`);
  tls13: true allows TLS 1.3 only (OTP 25 then refuses secure_renegotiate).
  """
  def optfile(pki, name, ca \\ "ca", san \\ nil, tls13 \\ false, expired \\ false) do
    {crt, key} = node_cert(pki, name, ca, san, expired)
    cacert = ca_cert(pki, ca)
    file = Path.join(pki.dir, "#{name}.dist.conf")

    common =
      "{certfile, #{inspect(crt)}}, {keyfile, #{inspect(key)}}, " <>
        "{cacertfile, #{inspect(cacert)}}, {verify, verify_peer}, " <>
        if(tls13, do: "{versions, ['tlsv1.3']}", else: "{secure_renegotiate, true}")

    File.write!(file, """
    [{server, [#{common}, {fail_if_no_peer_cert, true}]},
     {client, [{server_name_indication, disable}, #{common}]}].
    """)

    file
  end

  # The observer must reach TLS 1.2 and TLS 1.3-only members: OTP 25's dist
  # client offers only TLS 1.2 unless told, and refuses an explicit
  # secure_renegotiate once TLS 1.3 is allowed (it is on by default for 1.2).
  defp observer_optfile(pki, name) do
    file = optfile(pki, name)

    File.write!(
      file,
      String.replace(
        File.read!(file),
        "{secure_renegotiate, true}",
        "{versions, ['tlsv1.3', 'tlsv1.2']}"
      )
    )

    file
  end

  @doc "The erl flags of a TLS distribution node."
  def dist_args(optfile), do: ["-proto_dist", "inet_tls", "-ssl_dist_optfile", optfile]

  @doc "The `node.tls:` lines of a clusterd config (for write_config's node_extra:)."
  def config_lines(pki, name \\ "clusterd", ca \\ "ca", extra \\ []) do
    {crt, key} = node_cert(pki, name, ca)

    [
      "  tls:",
      "    certfile: #{crt}",
      "    keyfile: #{key}",
      "    cacertfile: #{ca_cert(pki, ca)}"
    ] ++ Enum.map(extra, &("    " <> &1))
  end

  # ----------------------------------------------------------------- members

  @doc """
  Starts TLS members (erl, -proto_dist inet_tls) with certificates from `ca`
  (option ca:, default "ca"; san: replaces the subjectAltName; tls13: true
  for TLS 1.3 only; expired: true for a certificate that has expired), all at once,
  and waits until the TLS observer reaches each. Other options go to
  Harness.start_erl. Returns the node atoms.
  """
  def start_members(ctx, pki, obs, shorts, opts \\ []) do
    ca = Keyword.get(opts, :ca, "ca")
    san = Keyword.get(opts, :san)
    tls13 = Keyword.get(opts, :tls13, false)
    expired = Keyword.get(opts, :expired, false)
    opts = Keyword.drop(opts, [:ca, :san, :tls13, :expired])

    nodes =
      for s <- shorts do
        args =
          dist_args(optfile(pki, s, ca, san, tls13, expired)) ++ Keyword.get(opts, :args, [])
        H.start_erl(ctx, s, Keyword.merge(opts, args: args, wait: false))
      end

    # The observer trusts only "ca" and checks host names: other nodes are
    # waited for in EPMD.
    if ca == "ca" and san == nil and not expired,
      do: Enum.each(nodes, &wait_node_up(obs, &1)),
      else: Enum.each(shorts, &wait_registered(ctx, &1))

    nodes
  end

  defp wait_registered(ctx, short) do
    case H.wait_until(30_000, fn -> short in H.epmd_names(ctx) end) do
      {:ok, _} -> :ok
      :timeout -> flunk("#{short} did not register in EPMD within 30 s")
    end
  end

  # ---------------------------------------------------------------- observer

  @doc "Starts the TLS observer (hidden, inet_tls, certificate from \"ca\")."
  def start_observer(ctx, pki) do
    name = "tlsobs#{System.unique_integer([:positive])}"
    erl = System.find_executable("erl") || flunk("erl not found")

    src = ~S"""
    io:setopts([binary]),
    Loop = fun L() ->
      case io:get_line("") of
        eof -> erlang:halt(0);
        {error, _} -> erlang:halt(0);
        Line ->
          {Ref, Req} = binary_to_term(base64:decode(string:trim(Line))),
          Res = try
                  case Req of
                    {call, N, M, F, A} -> {ok, erpc:call(N, M, F, A, 5000)};
                    {ping, N} -> {ok, net_adm:ping(N)}
                  end
                catch C:E -> {error, {C, E}}
                end,
          io:put_chars([<<"CLUSTERD_OBS ">>, base64:encode(term_to_binary({Ref, Res})), <<"\n">>]),
          L()
      end
    end,
    Loop().
    """

    args =
      ["-noshell", "-hidden", "-name", "#{name}@#{@host}", "-setcookie", ctx.cookie] ++
        ["-start_epmd", "false"] ++ dist_args(observer_optfile(pki, name)) ++ ["-eval", src]

    env = for {k, v} <- H.env(ctx), do: {String.to_charlist(k), v && String.to_charlist(v)}

    port =
      Port.open({:spawn_executable, erl}, [
        :binary,
        :exit_status,
        {:line, 16 * 1024 * 1024},
        {:args, args},
        {:env, env}
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)

    ExUnit.Callbacks.on_exit({__MODULE__, name}, fn ->
      System.cmd("kill", ["-KILL", "#{os_pid}"], stderr_to_stdout: true)
    end)

    %{port: port, os_pid: os_pid, node: :"#{name}@#{@host}"}
  end

  defp request(obs, req, timeout \\ 15_000) do
    ref = make_ref()
    line = Base.encode64(:erlang.term_to_binary({ref, req}))
    true = Port.command(obs.port, line <> "\n")
    await(obs, ref, System.monotonic_time(:millisecond) + timeout)
  end

  defp await(obs, ref, deadline) do
    port = obs.port
    left = max(deadline - System.monotonic_time(:millisecond), 0)

    receive do
      {^port, {:data, {:eol, @reply_prefix <> b64}}} ->
        case :erlang.binary_to_term(Base.decode64!(b64)) do
          {^ref, res} -> res
          _other -> await(obs, ref, deadline)
        end

      {^port, {:data, _}} ->
        await(obs, ref, deadline)

      {^port, {:exit_status, st}} ->
        flunk("the TLS observer exited with status #{st}")
    after
      left -> {:error, :observer_timeout}
    end
  end

  @doc "M:F(A) run on `node` by the TLS observer: {:ok, value} or {:error, why}."
  def call(obs, node, m, f, a), do: request(obs, {:call, node, m, f, a})

  def ping(obs, node), do: request(obs, {:ping, node}) == {:ok, :pong}

  def wait_node_up(obs, node, timeout \\ 30_000) do
    case H.wait_until(timeout, fn -> ping(obs, node) end) do
      {:ok, _} -> node
      :timeout -> flunk("TLS node #{node} did not answer the TLS observer within #{timeout} ms")
    end
  end

  @doc "erlang:nodes(type) as the member reports it to the TLS observer."
  def nodes_of(obs, node, type \\ :visible), do: call(obs, node, :erlang, :nodes, [type])

  def missing_links(obs, members) do
    for a <- members,
        seen = nodes_of(obs, a),
        b <- members,
        b != a,
        not match?({:ok, list} when is_list(list), seen) or b not in elem(seen, 1),
        do: {a, b}
  end

  def full_mesh?(obs, members), do: missing_links(obs, members) == []

  def mesh_report(obs, members) do
    Enum.map_join(members, "\n", fn m -> "  #{m}: #{inspect(nodes_of(obs, m))}" end)
  end

  def wait_for_full_mesh(ctx, obs, members, timeout \\ 30_000) do
    case H.wait_until(timeout, fn -> full_mesh?(obs, members) end, 100) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk("""
        TLS observer: no full mesh after #{timeout} ms
        missing links: #{inspect(missing_links(obs, members))}
        #{mesh_report(obs, members)}
        #{H.clusterd_logs_tail(ctx)}
        """)
    end
  end

  @doc "Waits until `cnode` is a hidden peer of every member, as each reports it."
  def wait_for_hidden_peer(ctx, obs, members, cnode, timeout \\ 30_000) do
    ok? = fn -> Enum.all?(members, &match?({:ok, l} when is_list(l), nodes_of(obs, &1, :hidden)) and cnode in elem(nodes_of(obs, &1, :hidden), 1)) end

    case H.wait_until(timeout, ok?) do
      {:ok, _} ->
        :ok

      :timeout ->
        views = for m <- members, do: "  #{m} hidden: #{inspect(nodes_of(obs, m, :hidden))}"
        flunk("#{cnode} is not a hidden peer of every member\n" <> Enum.join(views, "\n") <> "\n" <> H.clusterd_logs_tail(ctx))
    end
  end
end
