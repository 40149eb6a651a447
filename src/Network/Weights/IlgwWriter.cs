using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace IlgpuStyle.Network.Weights;

/// <summary>What <see cref="VggWeights.Save"/> wrote.</summary>
public sealed record IlgwSaveResult(string Path, string Sha256, long FileBytes, StorageDType DType,
    IReadOnlyList<IlgwTensorInfo> Tensors)
{
    /// <summary>Largest |float32 − stored| over all tensors (0 for f32 storage).</summary>
    public double MaxAbsStorageError => Tensors.Select(t => t.F16MaxAbsError ?? 0).DefaultIfEmpty(0).Max();
}

/// <summary>
/// Writes .ilgw files in one pass: header with a placeholder checksum, payload hashed as it is written,
/// then the header is rewritten with the real SHA-256 (same length). The file is written to a temporary file
/// in the destination directory and moved over the destination, so readers never see a half-written file.
/// </summary>
internal static class IlgwWriter
{
    private const int ChunkElements = 1 << 16;

    public static IlgwSaveResult Write(string path, VggWeights weights, StorageDType dtype)
    {
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);

        var header = BuildHeader(weights, dtype);
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            long fileBytes;
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            {
                var placeholder = HeaderBytes(header);
                long payloadStart = IlgwFormat.Align(IlgwFormat.PreambleLength + placeholder.Length);
                WritePreamble(fs, placeholder);
                fs.Write(new byte[payloadStart - fs.Position]);

                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                WritePayload(fs, hash, weights, header, dtype);
                header.Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());

                var final = HeaderBytes(header);
                if (final.Length != placeholder.Length)
                    throw new InvalidOperationException("internal error: .ilgw header length changed when the checksum was filled in");
                fileBytes = fs.Length;
                fs.Position = 0;
                WritePreamble(fs, final);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            var infos = header.Tensors!.Select(e => new IlgwTensorInfo(e.Name!, e.Shape!, dtype, e.Offset, e.Length, e.Source!, e.F16MaxAbsError)).ToList();
            return new IlgwSaveResult(full, header.Sha256, fileBytes, dtype, infos);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static IlgwHeader BuildHeader(VggWeights weights, StorageDType dtype)
    {
        var entries = new List<IlgwTensorEntry>();
        long offset = 0;
        foreach (var t in weights.Tensors.Values)
        {
            offset = IlgwFormat.Align(offset);
            long length = (long)t.Data.Length * IlgwFormat.ElementSize(dtype);
            entries.Add(new IlgwTensorEntry
            {
                Name = t.Name, Shape = t.Dims.ToArray(), Dtype = IlgwFormat.Name(dtype), Offset = offset, Length = length,
                Source = t.Source, F16MaxAbsError = dtype == StorageDType.F16 ? F16Error(t) : null,
            });
            offset += length;
        }
        var p = weights.Preprocessing;
        return new IlgwHeader
        {
            Format = "ilgw",
            Network = "vgg19",
            ConvertedFrom = weights.ConvertedFrom,
            Preprocessing = new IlgwPreprocessing
            {
                ChannelOrder = p.ChannelOrder.ToString(), InputScale = p.InputScale, Mean = p.Mean.ToArray(), Std = p.Std.ToArray(),
            },
            PayloadLength = offset,
            Sha256 = new string('0', 64),
            Tensors = entries,
        };
    }

    private static byte[] HeaderBytes(IlgwHeader header) =>
        Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header, IlgwFormat.Json));

    private static void WritePreamble(Stream s, byte[] headerJson)
    {
        Span<byte> pre = stackalloc byte[IlgwFormat.PreambleLength];
        IlgwFormat.Magic.CopyTo(pre);
        BinaryPrimitives.WriteUInt32LittleEndian(pre[4..], IlgwFormat.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(pre[8..], (uint)headerJson.Length);
        s.Write(pre);
        s.Write(headerJson);
    }

    private static void WritePayload(Stream s, IncrementalHash hash, VggWeights weights, IlgwHeader header, StorageDType dtype)
    {
        var zeros = new byte[IlgwFormat.Alignment];
        var buffer = new byte[ChunkElements * 4];
        long pos = 0;
        foreach (var (t, e) in weights.Tensors.Values.Zip(header.Tensors!))
        {
            int pad = (int)(e.Offset - pos);
            Emit(zeros.AsSpan(0, pad));
            for (int start = 0; start < t.Data.Length; start += ChunkElements)
            {
                var src = t.Data.AsSpan(start, Math.Min(ChunkElements, t.Data.Length - start));
                Emit(Encode(src, dtype, buffer));
            }
            pos = e.Offset + e.Length;
        }

        void Emit(ReadOnlySpan<byte> bytes)
        {
            s.Write(bytes);
            hash.AppendData(bytes);
        }
    }

    /// <summary>Little-endian bytes of <paramref name="src"/> in the storage type.</summary>
    private static ReadOnlySpan<byte> Encode(ReadOnlySpan<float> src, StorageDType dtype, byte[] buffer)
    {
        if (dtype == StorageDType.F32)
        {
            if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(src);
            for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), src[i]);
            return buffer.AsSpan(0, 4 * src.Length);
        }
        for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(buffer.AsSpan(2 * i), (Half)src[i]);
        return buffer.AsSpan(0, 2 * src.Length);
    }

    private static double F16Error(WeightTensor t)
    {
        double max = 0;
        foreach (var v in t.Data)
        {
            var h = (float)(Half)v;
            if (float.IsInfinity(h) && !float.IsInfinity(v))
                throw new ArgumentException($"tensor {t.Name} holds {v}, beyond the float16 range (±65504); store it as f32");
            max = Math.Max(max, Math.Abs(v - h));
        }
        return max;
    }
}
