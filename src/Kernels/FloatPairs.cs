// Test: through its user, tests/IlgpuStyle.Tests/Kernels/PoolingTests.cs (the max-pool backward on even widths)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Two adjacent floats as one 64-bit word: kernels whose work-items each write a pair of neighbouring floats two floats
/// apart from the next work-item's store the pair as one word, so consecutive work-items write consecutive words. PoCL
/// then emits vector stores where the float stores became <c>vscatterdps</c> — LLVM's cost model for skylake-avx512
/// picks scatters, which are slow on AMD's Zen 4/5 (doc/PERFORMANCE.md, stop 30). (Winograd's output transform on
/// words, every other word per work-item, tried: half the scatters, no faster.) Little-endian: the low half of a word
/// is the float at the lower address. A pair must start at an even float index of a tensor's own buffer (allocations
/// are word-aligned).
/// </summary>
internal static class FloatPairs
{
    /// <summary>Float <paramref name="i"/> (0: low half, 1: high half) of a 64-bit word.</summary>
    public static float Half(long word, int i) => Interop.IntAsFloat((uint)(i == 0 ? word : word >> 32));

    /// <summary>The 64-bit word holding <paramref name="low"/> then <paramref name="high"/>.</summary>
    public static long Pair(float low, float high) =>
        (long)Interop.FloatAsInt(low) | ((long)Interop.FloatAsInt(high) << 32);

    /// <summary>
    /// words[<paramref name="word"/>] ← (v0, v1), or + the pair already there when <paramref name="accumulate"/> ≠ 0. The
    /// caller computes the word index itself, affine in its work-item index (floats 2·word, 2·word + 1): derived as a
    /// float index / 2, the vectorizer cannot tell consecutive work-items' words are consecutive and scatters them again
    /// (the pool backward: 13 → 20 ms).
    /// </summary>
    public static void Store(ArrayView<long> words, int word, float v0, float v1, int accumulate)
    {
        if (accumulate != 0)
        {
            long old = words[word];
            v0 += Half(old, 0);
            v1 += Half(old, 1);
        }
        words[word] = Pair(v0, v1);
    }

    /// <summary>A tensor's floats as 64-bit words (its buffer is its own, so word-aligned; an odd last float is not covered).</summary>
    public static ArrayView<long> Words(Tensor t) => t.View.AsContiguous().Cast<long>();
}
