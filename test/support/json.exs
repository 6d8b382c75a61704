# A small strict JSON decoder (Elixir 1.14 has none built in): objects become
# maps with string keys, arrays lists, null nil.

defmodule Clusterd.JSON do
  def decode!(text) when is_binary(text) do
    {value, rest} = value(ws(text))

    case ws(rest) do
      "" -> value
      other -> raise ArgumentError, "JSON: trailing data: #{inspect(String.slice(other, 0, 40))}"
    end
  end

  def decode(text) do
    {:ok, decode!(text)}
  rescue
    e in [ArgumentError, MatchError, CaseClauseError, FunctionClauseError] -> {:error, e}
  end

  defp ws(<<c, rest::binary>>) when c in [?\s, ?\t, ?\r, ?\n], do: ws(rest)
  defp ws(rest), do: rest

  defp value("{" <> rest), do: object(ws(rest), %{}, true)
  defp value("[" <> rest), do: array(ws(rest), [], true)
  defp value("\"" <> rest), do: string(rest, [])
  defp value("true" <> rest), do: {true, rest}
  defp value("false" <> rest), do: {false, rest}
  defp value("null" <> rest), do: {nil, rest}
  defp value(text), do: number(text)

  defp object("}" <> rest, acc, true), do: {acc, rest}

  defp object("\"" <> rest, acc, _first) do
    {key, rest} = string(rest, [])

    case ws(rest) do
      ":" <> rest ->
        {val, rest} = value(ws(rest))
        acc = Map.put(acc, key, val)

        case ws(rest) do
          "," <> rest -> object(ws(rest), acc, false)
          "}" <> rest -> {acc, rest}
          other -> bad("',' or '}'", other)
        end

      other ->
        bad("':'", other)
    end
  end

  defp object(other, _, _), do: bad("object key", other)

  defp array("]" <> rest, acc, true), do: {Enum.reverse(acc), rest}

  defp array(text, acc, _first) do
    {val, rest} = value(text)

    case ws(rest) do
      "," <> rest -> array(ws(rest), [val | acc], false)
      "]" <> rest -> {Enum.reverse([val | acc]), rest}
      other -> bad("',' or ']'", other)
    end
  end

  defp string("\"" <> rest, acc), do: {IO.iodata_to_binary(Enum.reverse(acc)), rest}
  defp string("\\\"" <> rest, acc), do: string(rest, ["\"" | acc])
  defp string("\\\\" <> rest, acc), do: string(rest, ["\\" | acc])
  defp string("\\/" <> rest, acc), do: string(rest, ["/" | acc])
  defp string("\\b" <> rest, acc), do: string(rest, ["\b" | acc])
  defp string("\\f" <> rest, acc), do: string(rest, ["\f" | acc])
  defp string("\\n" <> rest, acc), do: string(rest, ["\n" | acc])
  defp string("\\r" <> rest, acc), do: string(rest, ["\r" | acc])
  defp string("\\t" <> rest, acc), do: string(rest, ["\t" | acc])

  defp string("\\u" <> <<hex::binary-size(4), rest::binary>>, acc) do
    case {String.to_integer(hex, 16), rest} do
      {hi, "\\u" <> <<lo::binary-size(4), rest2::binary>>} when hi in 0xD800..0xDBFF ->
        lo = String.to_integer(lo, 16)
        string(rest2, [<<0x10000 + (hi - 0xD800) * 0x400 + (lo - 0xDC00)::utf8>> | acc])

      {code, rest} ->
        string(rest, [<<code::utf8>> | acc])
    end
  end

  defp string(<<c, _::binary>> = text, _acc) when c < 0x20, do: bad("no control characters", text)
  defp string(<<c::utf8, rest::binary>>, acc), do: string(rest, [<<c::utf8>> | acc])
  defp string(text, _acc), do: bad("end of string", text)

  defp number(text) do
    case Regex.run(~r/\A-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/, text) do
      [num | parts] ->
        rest = binary_part(text, byte_size(num), byte_size(text) - byte_size(num))

        if parts == [] do
          {String.to_integer(num), rest}
        else
          {elem(Float.parse(num), 0), rest}
        end

      nil ->
        bad("a value", text)
    end
  end

  defp bad(expected, text),
    do:
      raise(ArgumentError, "JSON: expected #{expected} at #{inspect(String.slice(text, 0, 40))}")
end
