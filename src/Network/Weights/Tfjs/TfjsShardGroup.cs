namespace IlgpuStyle.Network.Weights;

/// <summary>
/// The shard files of one TF.js weight group, seen as one concatenated byte range, some files possibly absent.
/// The TF.js converter cuts every shard but the last to the same size, so an absent shard's size is known from any
/// present non-last shard (or from the group total and the last shard); byte ranges after it can still be located.
/// </summary>
internal sealed class TfjsShardGroup
{
    private readonly string _modelJson;
    private readonly int _group;
    private readonly string[] _files;
    private readonly long?[] _sizes;
    private readonly long?[] _starts;   // start of shard i in the concatenation; null when it cannot be known
    private readonly long? _uniform;

    public TfjsShardGroup(string modelJson, int group, string folder, string[] paths, long? totalBytes)
    {
        _modelJson = modelJson;
        _group = group;
        _files = paths.Select(p => ShardFile(modelJson, folder, p)).ToArray();
        _sizes = _files.Select(f => File.Exists(f) ? new FileInfo(f).Length : (long?)null).ToArray();
        int n = _files.Length;

        var nonLast = _sizes.Take(n - 1).Where(s => s is not null).Select(s => s!.Value).Distinct().ToList();
        if (nonLast.Count == 1) _uniform = nonLast[0];
        else if (nonLast.Count == 0 && n > 1 && _sizes[n - 1] is { } last && totalBytes is { } t && t >= last && (t - last) % (n - 1) == 0)
            _uniform = (t - last) / (n - 1);

        if (totalBytes is { } total && _sizes.All(s => s is not null) && _sizes.Sum(s => s!.Value) != total)
            throw WeightsFormatException.For(modelJson,
                $"weight group {group}: its {n} shard files hold {_sizes.Sum(s => s!.Value)} bytes, the manifest needs {total} (a shard is truncated or from another model)");

        _starts = new long?[n + 1];
        _starts[0] = 0;
        for (int i = 0; i < n; i++)
            _starts[i + 1] = _starts[i] is { } s && (_sizes[i] ?? _uniform) is { } size ? s + size : null;
    }

    /// <summary>
    /// A shard path of the manifest as a file in the model's folder. A manifest comes from the internet: a path that
    /// is absolute or climbs out of the folder ("../../home/me/.ssh/id_rsa", "/dev/stdin") is refused.
    /// </summary>
    private static string ShardFile(string modelJson, string folder, string path)
    {
        var full = Path.GetFullPath(Path.Combine(folder, path));
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        if (path.Length == 0 || Path.IsPathRooted(path) || !full.StartsWith(root, StringComparison.Ordinal))
            throw WeightsFormatException.For(modelJson, $"shard path \"{path}\" is not a file inside the model's folder");
        return full;
    }

    /// <summary>
    /// Bytes [offset, offset+length) of the concatenation, or null with <paramref name="absent"/> naming the absent
    /// shard file that holds (or precedes) them. Truncated or unreadable shards throw.
    /// </summary>
    public byte[]? TryRead(long offset, long length, string tensor, out string? absent)
    {
        absent = null;
        long end = offset + length;
        // First locate every byte, reading and allocating nothing: a manifest may claim any size.
        long pos = offset;
        for (int i = 0; i < _files.Length && pos < end; i++)
        {
            if (_starts[i] is not { } _ || _starts[i + 1] is not { } next)
            {
                absent = $"cannot locate {tensor} in weight group {_group}: shard {_files[i]} or one before it is absent and the shard sizes are not uniform";
                return null;
            }
            if (next <= pos) continue;
            if (_sizes[i] is null)
            {
                absent = $"{tensor} lies in {_files[i]}, which is absent";
                return null;
            }
            pos = Math.Min(end, next);
        }
        if (pos < end)
            throw WeightsFormatException.For(_modelJson,
                $"{tensor} needs bytes up to {end} of weight group {_group}, but its shards end at {_starts[^1]} (truncated shard?)");
        if (length > Array.MaxLength)
            throw WeightsFormatException.For(_modelJson, $"{tensor} claims {length} bytes, more than one tensor can hold");

        var result = new byte[length];
        long done = 0;
        for (int i = 0; i < _files.Length && done < length; i++)
        {
            long start = _starts[i]!.Value, next = _starts[i + 1]!.Value;
            if (next <= offset + done) continue;
            long from = offset + done - start;
            long take = Math.Min(end, next) - (offset + done);
            using var fs = new FileStream(_files[i], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            fs.Position = from;
            fs.ReadExactly(result.AsSpan((int)done, (int)take));
            done += take;
        }
        return result;
    }
}
