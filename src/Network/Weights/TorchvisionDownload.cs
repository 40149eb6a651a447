using System.Net;
using System.Security.Cryptography;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// Fetches torchvision's published VGG19 ImageNet weights (a 548 MB legacy torch.save file). torchvision names
/// its files NAME-HASH8.pth where HASH8 is the first 8 hex digits of the file's SHA-256; we verify that.
/// </summary>
public static class TorchvisionDownload
{
    public const string Url = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth";
    public const string FileName = "vgg19-dcbb9e9d.pth";
    public const string Sha256Prefix = "dcbb9e9d";

    /// <summary>
    /// Downloads <paramref name="url"/> to <paramref name="destination"/> (via DEST.part, moved into place once its
    /// SHA-256 starts with <paramref name="sha256Prefix"/>). An existing destination with the right hash is reused.
    /// <paramref name="timeout"/> bounds connecting, waiting for the response, and any stall while reading.
    /// </summary>
    /// <exception cref="WeightsDownloadException">Offline, HTTP error, stall, or wrong checksum; one-line message.</exception>
    public static async Task<string> FetchAsync(string destination, TimeSpan timeout, string url = Url, string sha256Prefix = Sha256Prefix,
        Action<long, long?>? progress = null, CancellationToken cancel = default)
    {
        if (File.Exists(destination) && (await Sha256Async(destination, cancel)).StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
            return destination;

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        var part = destination + ".part";
        using var handler = new SocketsHttpHandler { ConnectTimeout = timeout, AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { Timeout = timeout };
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancel);
            if (!response.IsSuccessStatusCode)
                throw new WeightsDownloadException($"cannot download {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            long? total = response.Content.Headers.ContentLength;
            await using var body = await response.Content.ReadAsStreamAsync(cancel);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                var buffer = new byte[1 << 20];
                long done = 0;
                while (true)
                {
                    using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                    stall.CancelAfter(timeout);
                    int n = await body.ReadAsync(buffer, stall.Token);
                    if (n == 0) break;
                    hash.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), cancel);
                    done += n;
                    progress?.Invoke(done, total);
                }
                if (total is { } t && done != t)
                    throw new WeightsDownloadException($"cannot download {url}: connection closed after {done} of {t} bytes");
            }
            var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (!sha.StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
                throw new WeightsDownloadException($"downloaded {url} but its SHA-256 is {sha[..16]}…, expected it to start with {sha256Prefix} (corrupt download or a different file)");
            File.Move(part, destination, overwrite: true);
            return destination;
        }
        catch (HttpRequestException e)
        {
            throw new WeightsDownloadException($"cannot download {url}: {e.Message} (offline? fetch {FileName} elsewhere and run `ilgpu-style weights convert --from {FileName} --out OUT.ilgw`)", e);
        }
        catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
        {
            throw new WeightsDownloadException($"cannot download {url}: no progress for {timeout.TotalSeconds:0.#} s (offline or very slow network?)", e);
        }
        finally
        {
            if (File.Exists(part)) File.Delete(part);
        }
    }

    public static async Task<string> Sha256Async(string path, CancellationToken cancel = default)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, cancel));
    }
}
