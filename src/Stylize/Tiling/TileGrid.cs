using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize.Tiling;

/// <summary>An axis-aligned rectangle of pixels: rows [Y, Y+Height), columns [X, X+Width).</summary>
public readonly record struct PixelRect(int Y, int X, int Height, int Width)
{
    public int Bottom => Y + Height;
    public int Right => X + Width;
    public long Pixels => (long)Height * Width;
}

/// <summary>
/// One tile of a <see cref="TileGrid"/>: <see cref="Core"/> is the part of the image it is responsible for (the
/// cores partition the image), <see cref="Crop"/> what the network reads — the core grown by a halo on every side
/// that is not the image's border, clipped to the image. Crops start at multiples of the alignment.
/// </summary>
public readonly record struct Tile(PixelRect Core, PixelRect Crop);

/// <summary>
/// The image cut into tiles for the tiled evaluation: ⌈H/side⌉ × ⌈W/side⌉ cores of equal size (rounded up to the
/// network's alignment, the last row and column taking the rest), each read through a crop grown by a halo
/// (<see cref="ReceptiveField"/>). A pure function of sizes: tests and the memory planner use it without a device.
/// </summary>
public sealed class TileGrid
{
    private TileGrid(int width, int height, int rows, int columns, int coreHeight, int coreWidth, TileHalo halo)
    {
        Width = width;
        Height = height;
        Rows = rows;
        Columns = columns;
        CoreHeight = coreHeight;
        CoreWidth = coreWidth;
        Halo = halo;
    }

    public int Width { get; }
    public int Height { get; }
    public int Rows { get; }
    public int Columns { get; }
    /// <summary>Height of every core but possibly the last row's (which is smaller).</summary>
    public int CoreHeight { get; }
    /// <summary>Width of every core but possibly the last column's.</summary>
    public int CoreWidth { get; }
    public TileHalo Halo { get; }
    public int Count => Rows * Columns;

    /// <summary>One tile: the whole image (the untiled evaluation).</summary>
    public bool Single => Count == 1;

    /// <summary>
    /// Cores of at most <paramref name="maxCoreSide"/> pixels a side (at least the alignment), as equal as the
    /// alignment allows: n = ⌈H / maxCoreSide⌉ rows of ⌈H/n⌉ rounded up to the alignment.
    /// </summary>
    public static TileGrid Create(int width, int height, int maxCoreSide, TileHalo halo)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"tile grid: a {width}×{height} image.");
        int side = Math.Max(halo.Alignment, maxCoreSide / halo.Alignment * halo.Alignment);
        (int count, int core) Split(int length)
        {
            if (length <= maxCoreSide) return (1, length);
            int n = (length + side - 1) / side;
            int core = ((length + n - 1) / n + halo.Alignment - 1) / halo.Alignment * halo.Alignment;
            return ((length + core - 1) / core, core);
        }
        var (rows, coreH) = Split(height);
        var (columns, coreW) = Split(width);
        return new TileGrid(width, height, rows, columns, coreH, coreW, halo);
    }

    /// <summary>The tiles in row-major order, crops grown by <paramref name="margin"/> (a multiple of the alignment).</summary>
    public IEnumerable<Tile> Tiles(int margin)
    {
        CheckMargin(margin);
        for (int r = 0; r < Rows; r++)
        for (int c = 0; c < Columns; c++)
        {
            var (y, coreH, y0, cropH) = Span(r, CoreHeight, Height, margin);
            var (x, coreW, x0, cropW) = Span(c, CoreWidth, Width, margin);
            yield return new Tile(new PixelRect(y, x, coreH, coreW), new PixelRect(y0, x0, cropH, cropW));
        }
    }

    /// <summary>
    /// Along one axis of <paramref name="length"/> pixels: core <paramref name="index"/> (start, size) and its crop
    /// (start, size) — the core grown by <paramref name="margin"/> on each side, clipped to the image.
    /// </summary>
    private static (int Core, int CoreSize, int Crop, int CropSize) Span(int index, int core, int length, int margin)
    {
        int start = index * core, size = Math.Min(core, length - start);
        int from = Math.Max(0, start - margin), to = Math.Min(length, start + size + margin);
        return (start, size, from, to - from);
    }

    /// <summary>The largest crop with <paramref name="margin"/>: what one tile's evaluation must hold.</summary>
    public (int Height, int Width) LargestCrop(int margin)
    {
        CheckMargin(margin);
        return (Enumerable.Range(0, Rows).Max(r => Span(r, CoreHeight, Height, margin).CropSize),
                Enumerable.Range(0, Columns).Max(c => Span(c, CoreWidth, Width, margin).CropSize));
    }

    /// <summary>Crops must start aligned: the margin is a multiple of the alignment.</summary>
    private void CheckMargin(int margin)
    {
        if (margin % Halo.Alignment != 0) throw new ArgumentException($"tile grid: margin {margin} is not a multiple of {Halo.Alignment}.");
    }

    public override string ToString() => $"{Columns}×{Rows} tiles of {CoreWidth}×{CoreHeight}";
}
