using CsCheck;

namespace ModelKit.Onnx.Fuzz.Tests;

/// <summary>
/// Byte-level mutation of a real model. Most mutations keep the wire format intact so that the model still parses and
/// the change reaches validation and ONNX Runtime: a flipped low bit of a varint value (dimensions, element types,
/// attribute values, opsets, data locations) or a changed byte of a short string or bytes value (names, external data
/// locations, small tensors). The rest break the structure: flips, overwritten varints, inserted, deleted and duplicated
/// runs, truncation, mostly at tags and lengths. Large weight payloads are left alone (changing them yields another valid model).
/// </summary>
internal static class ByteMutations
{
    private static readonly string[] Kinds = ["flip bits", "overwrite varint", "insert bytes", "delete bytes", "truncate", "duplicate run", "zero run"];

    public static Gen<FuzzCase> Generator(string name, byte[] original)
    {
        var varints = new List<int>();
        var strings = new List<int>();
        var structural = new List<int>();
        if (!Scan(original, 0, original.Length, 0, varints, strings, structural))
        {
            throw new ArgumentException($"{name} is not a protobuf message.", nameof(original));
        }

        int[] varintPositions = [.. varints];
        int[] stringPositions = [.. strings];
        int[] structuralPositions = [.. structural];
        return Gen.Select(Gen.Int[1, 3], Gen.Int[0, 99], Gen.Int)
            .Select(t => Mutate(name, original, varintPositions, stringPositions, structuralPositions, t.Item1, t.Item2, t.Item3));
    }

    private static FuzzCase Mutate(string name, byte[] original, int[] varints, int[] strings, int[] structural, int mutations, int mode, int seed)
    {
        var random = new Random(seed);
        var bytes = new List<byte>(original);
        var done = new List<string>();
        for (int m = 0; m < mutations && bytes.Count > 1; m++)
        {
            if (mode < 55 && varints.Length > 0)
            {
                // Wire-format preserving: change a low bit of a varint value (a dimension, element type, attribute, opset...).
                int at = varints[random.Next(varints.Length)];
                int bit = random.Next(7);
                bytes[at] ^= (byte)(1 << bit);
                done.Add($"varint bit {bit}@{at}");
                continue;
            }

            if (mode < 75 && strings.Length > 0)
            {
                // Wire-format preserving: change a byte of a short string or bytes value (a name, a location, a small tensor).
                int at = strings[random.Next(strings.Length)];
                bytes[at] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)(bytes[at] ^ (1 << random.Next(8)));
                done.Add($"string byte@{at}");
                continue;
            }

            int position = mode < 80 || structural.Length == 0
                ? random.Next(bytes.Count)
                : Math.Min(structural[random.Next(structural.Length)], bytes.Count - 1);
            string kind = Kinds[random.Next(Kinds.Length)];
            done.Add($"{kind}@{position}");
            switch (kind)
            {
                case "flip bits":
                    bytes[position] ^= (byte)(1 << random.Next(8));
                    break;
                case "overwrite varint":
                    {
                        byte[] varint = random.Next(3) switch
                        {
                            0 => [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], // 2^64 - 1 (-1 as int64)
                            1 => [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40], // 2^62
                            _ => [0xFF, 0xFF, 0xFF, 0xFF, 0x07], // 2^31 - 1
                        };
                        for (int i = 0; i < varint.Length && position + i < bytes.Count; i++)
                        {
                            bytes[position + i] = varint[i];
                        }

                        break;
                    }

                case "insert bytes":
                    {
                        byte[] extra = new byte[random.Next(1, 16)];
                        random.NextBytes(extra);
                        bytes.InsertRange(position, extra);
                        break;
                    }

                case "delete bytes":
                    bytes.RemoveRange(position, Math.Min(random.Next(1, 16), bytes.Count - position));
                    break;
                case "truncate":
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                case "duplicate run":
                    {
                        int length = Math.Min(random.Next(1, 256), bytes.Count - position);
                        bytes.InsertRange(position, bytes.GetRange(position, length));
                        break;
                    }

                default:
                    for (int i = position; i < Math.Min(bytes.Count, position + random.Next(1, 32)); i++)
                    {
                        bytes[i] = 0;
                    }

                    break;
            }
        }

        string category = mode < 55 ? "varint values" : mode < 75 ? "string values" : "structure";
        return new FuzzCase($"{name} with {string.Join(", ", done)} (seed {seed})", [.. bytes], Kind: category);
    }

    /// <summary>
    /// Walks the wire format of the message in [start, end) and collects the positions of varint values, of the bytes of
    /// short (at most 256 bytes) string and bytes values, and of every tag and length (the structure). Payloads longer than
    /// 256 bytes that are not messages (weights in raw_data) are left out. Returns false when the range is not a message.
    /// </summary>
    private static bool Scan(byte[] data, int start, int end, int depth, List<int> varints, List<int> strings, List<int> structural)
    {
        if (depth > 40)
        {
            return false;
        }

        int position = start;
        while (position < end)
        {
            int tagStart = position;
            if (!TryReadVarint(data, ref position, end, out ulong tag) || tag >> 3 == 0)
            {
                return false;
            }

            for (int p = tagStart; p < position; p++)
            {
                structural.Add(p);
            }

            switch ((int)(tag & 7))
            {
                case 0:
                    int valueStart = position;
                    if (!TryReadVarint(data, ref position, end, out _))
                    {
                        return false;
                    }

                    for (int p = valueStart; p < position; p++)
                    {
                        varints.Add(p);
                    }

                    break;
                case 1:
                    position += 8;
                    break;
                case 2:
                    int lengthStart = position;
                    if (!TryReadVarint(data, ref position, end, out ulong length) || length > (ulong)(end - position))
                    {
                        return false;
                    }

                    for (int p = lengthStart; p < position; p++)
                    {
                        structural.Add(p);
                    }

                    int payload = position;
                    position += (int)length;
                    int v = varints.Count, s = strings.Count, t = structural.Count;
                    if (length > 0 && Scan(data, payload, position, depth + 1, varints, strings, structural))
                    {
                        break;
                    }

                    varints.RemoveRange(v, varints.Count - v);
                    strings.RemoveRange(s, strings.Count - s);
                    structural.RemoveRange(t, structural.Count - t);
                    if (length <= 256)
                    {
                        for (int p = payload; p < position; p++)
                        {
                            strings.Add(p);
                        }
                    }

                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    return false; // groups never appear in ONNX files
            }
        }

        return position == end;
    }

    private static bool TryReadVarint(byte[] data, ref int position, int end, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && position < end; shift += 7)
        {
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
