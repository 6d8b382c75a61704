# HTTP for the metrics/health tests: a tiny bounded HTTP/1.1 GET client on
# :gen_tcp (no inets needed), and a strict parser of the Prometheus text
# format (0.0.4) that checks what a scraper relies on: every sample belongs
# to a family with HELP and TYPE lines given first, label syntax, numeric
# values, and cumulative histograms whose +Inf bucket equals _count.

defmodule Clusterd.HTTP do
  @doc """
  GET (or another method) on 127.0.0.1:port, or on {host, port} (host an IPv4
  string): {:ok, %{status, headers, body, raw}} or {:error, why}.
  """
  def request(port, path, method \\ "GET", timeout \\ 5_000)

  def request({host, port}, path, method, timeout) do
    {:ok, ip} = :inet.parse_address(String.to_charlist(host))
    request_ip(ip, port, path, method, timeout)
  end

  def request(port, path, method, timeout),
    do: request_ip({127, 0, 0, 1}, port, path, method, timeout)

  defp request_ip(ip, port, path, method, timeout) do
    with {:ok, s} <-
           :gen_tcp.connect(ip, port, [:binary, active: false, packet: :raw], timeout) do
      try do
        req = "#{method} #{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

        with :ok <- :gen_tcp.send(s, req),
             {:ok, raw} <- recv_all(s, "", System.monotonic_time(:millisecond) + timeout) do
          parse_response(raw)
        end
      after
        :gen_tcp.close(s)
      end
    end
  end

  def get(port, path), do: request(port, path)

  defp recv_all(s, acc, deadline) do
    left = deadline - System.monotonic_time(:millisecond)

    if left <= 0 do
      {:error, :timeout}
    else
      case :gen_tcp.recv(s, 0, left) do
        {:ok, data} -> recv_all(s, acc <> data, deadline)
        {:error, :closed} when acc != "" -> {:ok, acc}
        {:error, why} -> {:error, why}
      end
    end
  end

  defp parse_response(raw) do
    case String.split(raw, "\r\n\r\n", parts: 2) do
      [head, body] ->
        [status_line | header_lines] = String.split(head, "\r\n")
        [_, code | _] = String.split(status_line, " ", parts: 3)

        headers =
          for l <- header_lines, [k, v] = String.split(l, ":", parts: 2), into: %{} do
            {String.downcase(k), String.trim(v)}
          end

        {:ok, %{status: String.to_integer(code), headers: headers, body: body, raw: raw}}

      _ ->
        {:error, {:malformed, raw}}
    end
  end

  @doc "The port clusterd's log says its HTTP endpoint listens on."
  def port_from_log(log_text) do
    [_, port] = Regex.run(~r/msg="http listening".* port=(\d+)/, log_text)
    String.to_integer(port)
  end
end

defmodule Clusterd.Prometheus do
  @name ~r/^[a-zA-Z_:][a-zA-Z0-9_:]*$/
  @sample ~r/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
  @label ~r/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/

  @doc """
  Parses and validates the text; raises on anything a scraper would reject.
  Returns %{types: %{family => type}, help: %{family => text},
  samples: [{name, %{label => value}, float}]}.
  """
  def parse!(text) do
    unless text == "" or String.ends_with?(text, "\n"), do: raise("no final newline")

    st =
      text
      |> String.split("\n", trim: true)
      |> Enum.reduce(%{types: %{}, help: %{}, samples: []}, &line/2)

    st = %{st | samples: Enum.reverse(st.samples)}
    check_histograms!(st)
    st
  end

  defp line("# HELP " <> rest, st) do
    [name, help] = String.split(rest, " ", parts: 2)
    unless name =~ @name, do: raise("bad HELP name #{inspect(name)}")
    if Map.has_key?(st.help, name), do: raise("HELP twice for #{name}")
    put_in(st, [:help, name], help)
  end

  defp line("# TYPE " <> rest, st) do
    [name, type] = String.split(rest, " ", parts: 2)
    unless type in ~w(counter gauge histogram summary untyped), do: raise("bad TYPE #{type}")
    if Map.has_key?(st.types, name), do: raise("TYPE twice for #{name}")

    if Enum.any?(st.samples, fn {n, _, _} -> family(n, st.types) == name end),
      do: raise("TYPE for #{name} after its samples")

    put_in(st, [:types, name], type)
  end

  defp line("#" <> _, st), do: st

  defp line(l, st) do
    case Regex.run(@sample, l) do
      [_, name, labels, value] ->
        fam = family(name, st.types)
        unless Map.has_key?(st.types, fam), do: raise("sample #{name} without a TYPE line")
        unless Map.has_key?(st.help, fam), do: raise("sample #{name} without a HELP line")
        %{st | samples: [{name, labels(labels), number(value)} | st.samples]}

      [_, name, value] ->
        line(name <> "{} " <> value, st)

      nil ->
        raise "not a sample line: #{inspect(l)}"
    end
  end

  defp family(name, types) do
    base = Regex.replace(~r/_(bucket|sum|count)$/, name, "")
    if base != name and Map.get(types, base) == "histogram", do: base, else: name
  end

  defp labels(""), do: %{}

  defp labels(text) do
    case Regex.run(@label, text) do
      [all, k, v, _] ->
        Map.put(labels(binary_part(text, byte_size(all), byte_size(text) - byte_size(all))), k, v)

      nil ->
        raise "bad labels: #{inspect(text)}"
    end
  end

  defp number("+Inf"), do: :infinity
  defp number("-Inf"), do: :neg_infinity
  defp number("NaN"), do: :nan

  defp number(v) do
    case Float.parse(v) do
      {f, ""} -> f
      _ -> raise "bad value #{inspect(v)}"
    end
  end

  defp check_histograms!(st) do
    for {fam, "histogram"} <- st.types do
      buckets = for {n, l, v} <- st.samples, n == fam <> "_bucket", do: {l["le"], v}
      [{"+Inf", inf} | _] = Enum.reverse(buckets)
      values = Enum.map(buckets, &elem(&1, 1))
      unless values == Enum.sort(values), do: raise("#{fam}: buckets not cumulative")
      unless value(st, fam <> "_count") == inf, do: raise("#{fam}: +Inf bucket != _count")
      unless is_float(value(st, fam <> "_sum")), do: raise("#{fam}: no _sum")
    end

    :ok
  end

  @doc "The value of the sample `name` whose labels include `labels`, or nil."
  def value(st, name, labels \\ %{}) do
    Enum.find_value(st.samples, fn {n, l, v} ->
      if n == name and Enum.all?(labels, fn {k, want} -> l[to_string(k)] == want end), do: v
    end)
  end

  @doc "Label maps of every sample called `name`."
  def series(st, name), do: for({^name, l, _} <- st.samples, do: l)
end

defmodule Clusterd.HTTP.TestHelpers do
  import ExUnit.Assertions
  alias Clusterd.{HTTP, Prometheus}
  alias Clusterd.Harness, as: H

  @http "http:\n  listen: \"127.0.0.1:0\"\n"
  def http, do: @http

  @doc "Starts clusterd with http.listen on a free port; returns {handle, port, config}."
  def start_with_http(ctx, opts, http \\ @http) do
    config = H.write_config(ctx, opts)
    File.write!(config, File.read!(config) <> http)
    h = H.start_clusterd(ctx, config)
    H.wait_for_log(ctx, h, ~r/msg="http listening"/)
    {h, HTTP.port_from_log(H.clusterd_log(h)), config}
  end

  @doc "Scrapes until `check` holds for the parsed metrics; returns them (fails with the last scrape)."
  def wait_metrics(ctx, port, what, check, timeout \\ 20_000) do
    scrape = fn ->
      {:ok, %{status: 200, body: body}} = HTTP.get(port, "/metrics")
      Prometheus.parse!(body)
    end

    case H.wait_until(timeout, fn -> (m = scrape.()) && check.(m) && m end) do
      {:ok, m} ->
        m

      :timeout ->
        {:ok, r} = HTTP.get(port, "/metrics")
        flunk("metrics never showed #{what}:\n#{r.body}\n#{H.clusterd_logs_tail(ctx)}")
    end
  end

  def v(m, name, labels \\ %{}), do: Prometheus.value(m, name, labels)

  def refute_cookie(ctx, responses) do
    for r <- responses do
      refute String.contains?(r.raw, ctx.cookie), "the cookie appears in an HTTP response"
    end
  end
end
