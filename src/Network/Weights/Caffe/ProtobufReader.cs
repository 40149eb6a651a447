using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuStyle.Network.Weights.Caffe;

/// <summary>
/// Protocol Buffers' wire format (protobuf.dev, "Encoding"), read one field at a time from a seekable stream, never
/// past the end of the enclosing message: a tag — field number · 8 + wire type — as a varint, then a varint (wire type
/// 0), 8 little-endian bytes (1), a varint length and that many bytes (2: strings, messages, packed repeated fields),
/// or 4 little-endian bytes (5). Groups (3, 4), deprecated since proto2, are refused. Every length is checked against
/// the enclosing message's end before anything is read or allocated, so a hostile file costs at most its own size.
/// Skipped fields are seeked over: a 400 MB blob that is not needed is never read. Tests: CaffeModelTests.
/// </summary>
internal sealed class ProtobufReader(Stream stream, string path)
{
    public long Position => stream.Position;

    /// <summary>The next field's number and wire type, or false at <paramref name="end"/>.</summary>
    public bool Next(long end, out int field, out int wireType)
    {
        field = wireType = 0;
        if (stream.Position >= end) return false;
        ulong tag = Varint(end);
        wireType = (int)(tag & 7);
        if (tag >> 3 is 0 or > 536_870_911) throw Bad($"field number {tag >> 3} at byte {stream.Position}");
        field = (int)(tag >> 3);
        if (wireType is not (0 or 1 or 2 or 5))
            throw Bad($"wire type {wireType} (field {field}) at byte {stream.Position}: not a protobuf message this reader knows");
        return true;
    }

    /// <summary>A varint (up to 10 bytes, 7 bits each, least significant first).</summary>
    public ulong Varint(long end)
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (stream.Position >= end) throw Bad("a varint runs past the end of its message");
            int b = stream.ReadByte();
            if (b < 0) throw Bad("the file ends inside a varint");
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Bad("a varint longer than 10 bytes");
    }

    /// <summary>A length-delimited field's length; returns the end of its bytes (checked against <paramref name="end"/>).</summary>
    public long LengthEnd(long end)
    {
        ulong length = Varint(end);
        if (length > (ulong)(end - stream.Position))
            throw Bad($"a field claims {length} bytes at byte {stream.Position}, {end - stream.Position} remain in its message");
        return stream.Position + (long)length;
    }

    /// <summary>A varint that must be a non-negative 32-bit integer (a dimension).</summary>
    public int Int32(long end)
    {
        ulong v = Varint(end);
        if (v > int.MaxValue) throw Bad($"value {unchecked((long)v)} at byte {stream.Position} is not a size");
        return (int)v;
    }

    public string String(long end)
    {
        long stop = LengthEnd(end);
        if (stop - stream.Position > 4096) throw Bad($"a name of {stop - stream.Position} bytes");
        var bytes = new byte[stop - stream.Position];
        stream.ReadExactly(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Skips the value of a field of <paramref name="wireType"/>.</summary>
    public void Skip(int wireType, long end)
    {
        if (wireType == 0)
        {
            Varint(end);
            return;
        }
        long to = wireType switch
        {
            1 => stream.Position + 8,
            2 => LengthEnd(end),
            5 => stream.Position + 4,
            _ => throw Bad($"wire type {wireType}"),
        };
        if (to > end) throw Bad("a fixed-size field runs past the end of its message");
        stream.Position = to;
    }

    /// <summary>Moves to <paramref name="position"/> (a place this reader passed before).</summary>
    public void Seek(long position) => stream.Position = position;

    /// <summary>Fills <paramref name="into"/> with the little-endian floats (4 bytes each) or doubles (8, rounded to float) at the current position.</summary>
    public void Floats(Span<float> into, bool doubles)
    {
        if (!doubles)
        {
            stream.ReadExactly(MemoryMarshal.AsBytes(into));
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < into.Length; i++)
                    into[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(BitConverter.SingleToInt32Bits(into[i])));
            return;
        }
        Span<byte> eight = stackalloc byte[8];
        for (int i = 0; i < into.Length; i++)
        {
            stream.ReadExactly(eight);
            into[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(eight);
        }
    }

    /// <summary>The file breaks the wire format or a blob contradicts itself.</summary>
    public WeightsFormatException Bad(string what) => WeightsFormatException.For(path, $"damaged Caffe model: {what}");

    /// <summary>The file is well formed but not what a VGG19 model must be.</summary>
    public WeightsFormatException Wrong(string what) => WeightsFormatException.For(path, what);
}
