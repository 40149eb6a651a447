using System.Globalization;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize.Tiling;

/// <summary>
/// How one scale runs within the device-memory budget (<see cref="MemoryPlanner.Plan"/>): whole or in tiles, and the
/// L-BFGS history. <see cref="EstimatedPeakBytes"/> counts what was in use before the scale (weights, scratch).
/// </summary>
public sealed record MemoryPlan(int Width, int Height, TileGrid? Tiles, OptimizerKind Optimizer, int History,
    int RequestedHistory, long EstimatedPeakBytes, long BudgetBytes)
{
    public bool HistoryCut => Optimizer == OptimizerKind.Lbfgs && History < RequestedHistory;

    /// <summary>The style term the estimate is for (its targets and scratch differ).</summary>
    public StyleLossKind StyleLoss { get; init; }

    /// <summary>The tile side the loss is built with (null: untiled).</summary>
    public int? TileSide => Tiles is null ? null : Math.Max(Tiles.CoreWidth, Tiles.CoreHeight);

    /// <summary>e.g. <c>3840×2160, tiles 960×720 + halo 160 (12), L-BFGS history 12 (of 100: memory), gram style loss, est. peak 3.70 GiB of 4.00 GiB</c>.</summary>
    public override string ToString()
    {
        string tiles = Tiles is null ? "untiled" : $"tiles {Tiles.CoreWidth}×{Tiles.CoreHeight} + halo {Tiles.Halo.Gradient} ({Tiles.Count})";
        string optimizer = Optimizer == OptimizerKind.Adam ? "Adam"
            : HistoryCut ? $"L-BFGS history {History} (of {RequestedHistory}: memory)" : $"L-BFGS history {History}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Width}×{Height}, {tiles}, {optimizer}, {StyleLoss.ToString().ToLowerInvariant()} style loss, est. peak {ByteSize.Format(EstimatedPeakBytes)} of {ByteSize.Format(BudgetBytes)}");
    }
}

/// <summary>The budget cannot hold even the smallest tiles with an L-BFGS history of 1 (exit code 3).</summary>
public sealed class MemoryBudgetException(string message, long neededBytes) : Exception(message)
{
    /// <summary>The smallest budget that would do.</summary>
    public long NeededBytes { get; } = neededBytes;
}

/// <summary>
/// Chooses, from sizes and a byte budget alone (<see cref="MemoryModel"/>), how a scale runs:
/// <list type="number">
/// <item>untiled, with the requested L-BFGS history or as much of it as fits, when the whole image's evaluation fits
/// with a history of at least min(requested, <see cref="HistoryFloor"/>) — tiling costs time, a shorter history little;</item>
/// <item>else the largest tiles (cores a multiple of the network's alignment) that fit with that history floor, then the
/// longest history that fits beside them — unless those tiles are under 2 gradient halos a side (the halos would cost
/// far more than the tiles): then the floor drops to 5, then 3, for larger tiles;</item>
/// <item>else a <see cref="MemoryBudgetException"/> naming the budget the smallest tiles with history 1 need.</item>
/// </list>
/// A forced tile side (<see cref="RunSettings.TileSide"/>) skips the choice but not the history fit.
/// Test: tests/IlgpuStyle.Stylize.Tests/Stylize/MemoryPlannerTests.cs.
/// </summary>
public static class MemoryPlanner
{
    /// <summary>The L-BFGS history kept before the image is tiled to make room (jcjohnson/neural-style's users run 5–20 well).</summary>
    public const int HistoryFloor = 10;

    /// <param name="width">The content's width at this scale (the optimized image).</param>
    /// <param name="height">Its height.</param>
    /// <param name="styles">The style images' sizes at this scale.</param>
    /// <param name="deepest">The deepest layer the network computes.</param>
    /// <param name="liveBytes">Device bytes in use before the scale (weights, scratch).</param>
    /// <param name="budgetBytes">The most the device may hold (a cap, or the device's memory).</param>
    /// <param name="maskedStyles">Styles with masks (spatial control; 0: none): <see cref="MemoryModel.GuidedBytes"/>.</param>
    /// <param name="maskedStyleImages">Styles with a mask on their image (0: none): <see cref="MemoryModel.TargetBytes"/>.</param>
    public static MemoryPlan Plan(int width, int height, IReadOnlyList<(int Width, int Height)> styles, string deepest,
        LossSettings loss, RunSettings run, long liveBytes, long budgetBytes, int maskedStyles = 0, int maskedStyleImages = 0)
    {
        var halo = ReceptiveField.For(deepest);
        bool lbfgs = run.Optimizer == OptimizerKind.Lbfgs;
        int requested = lbfgs ? run.LbfgsHistory : 0;
        long available = budgetBytes - liveBytes;

        // Bytes a choice needs: the larger of the target phase and the optimization phase.
        long Need(TileGrid? grid, int history)
        {
            long evaluation = grid is null ? MemoryModel.UntiledEvaluationBytes(height, width, deepest, loss)
                : MemoryModel.TiledEvaluationBytes(grid, deepest, loss);
            long optimize = evaluation + MemoryModel.StateBytes(width, height, loss, run.Optimizer, history, grid is not null)
                            + MemoryModel.GuidedBytes(width, height, grid, loss, maskedStyles);
            long targets = MemoryModel.TargetBytes(width, height, styles, deepest, loss, grid is null ? null : Math.Max(grid.CoreWidth, grid.CoreHeight),
                maskedStyleImages);
            return Math.Max(optimize, targets);
        }
        // The longest history ≤ requested that fits beside the grid (0 when not even 1 fits; Adam: 0 = nothing to fit).
        int History(TileGrid? grid)
        {
            if (!lbfgs) return Need(grid, 0) <= available ? 0 : -1;
            long perEntry = 2L * 3 * width * height * sizeof(float);
            long spare = available - Need(grid, 0);
            return spare < perEntry ? -1 : (int)Math.Min(requested, spare / perEntry);
        }
        MemoryPlan Make(TileGrid? grid, int history) =>
            new(width, height, grid, run.Optimizer, lbfgs ? history : 0, requested, liveBytes + Need(grid, Math.Max(history, 0)), budgetBytes)
            {
                StyleLoss = loss.StyleLoss,
            };

        int floor = lbfgs ? Math.Min(requested, HistoryFloor) : 0;
        if (run.TileSide is int forced)
        {
            var grid = TileGrid.Create(width, height, forced, halo);
            var g = grid.Single ? null : grid;
            int h = History(g);
            if (h >= (lbfgs ? 1 : 0)) return Make(g, h);
            throw TooSmall(width, height, deepest, halo, g, liveBytes, budgetBytes, Need(g, lbfgs ? 1 : 0));
        }
        int untiled = History(null);
        if (untiled >= floor && untiled >= 0 && (!lbfgs || untiled >= 1)) return Make(null, untiled);
        // Grids from the largest tiles down (each side gives evenly spread cores, so neighbouring sides often repeat one).
        var grids = new List<TileGrid>();
        for (int side = (Math.Max(width, height) - 1) / halo.Alignment * halo.Alignment; side >= MinimumTileSide(halo); side -= halo.Alignment)
        {
            var grid = TileGrid.Create(width, height, side, halo);
            if (!grid.Single && (grids.Count == 0 || grid.ToString() != grids[^1].ToString())) grids.Add(grid);
        }
        TileGrid? Largest(int history) => grids.FirstOrDefault(g => History(g) >= Math.Max(history, lbfgs ? 1 : 0));
        // The largest tiles that keep the history floor — unless they are so small that the halos dwarf them (cores under
        // 2 halos: crops over 4× their cores); then a shorter history for larger tiles, down to 3.
        int[] floors = lbfgs ? new[] { floor, Math.Min(floor, 5), Math.Min(floor, 3) }.Distinct().ToArray() : [0];
        foreach (int f in floors)
            if (Largest(f) is { } grid && Math.Min(grid.CoreWidth, grid.CoreHeight) >= 2 * halo.Gradient)
                return Make(grid, History(grid));
        if (Largest(floors[^1]) is { } larger) return Make(larger, History(larger));
        // Not even history 3: the longest history the smallest tiles leave room for, with the largest tiles that keep it.
        var smallest = grids.Count > 0 ? grids[^1] : null;
        if (smallest is not null && History(smallest) is int most && most >= (lbfgs ? 1 : 0) && Largest(most) is { } fits)
            return Make(fits, History(fits));
        throw TooSmall(width, height, deepest, halo, smallest, liveBytes, budgetBytes, Need(smallest, lbfgs ? 1 : 0));
    }

    /// <summary>
    /// The smallest tiles the planner considers: half the gradient halo (cores of 80 px for relu5_1, whose crops of
    /// 80 + 2·160 px then cost 25× a core's work). Smaller tiles would save little memory — the image-sized tensors
    /// remain — for a far larger overhead.
    /// </summary>
    public static int MinimumTileSide(TileHalo halo) => Math.Max(halo.Alignment, halo.Gradient / 2 / halo.Alignment * halo.Alignment);

    private static MemoryBudgetException TooSmall(int width, int height, string deepest, TileHalo halo, TileGrid? grid,
        long liveBytes, long budgetBytes, long need)
    {
        long needed = liveBytes + need;
        string tiles = grid is null ? "untiled" : $"in tiles of {grid.CoreWidth}×{grid.CoreHeight} + halo {halo.Gradient}";
        return new MemoryBudgetException(
            $"a {width}×{height} image up to {deepest} needs at least {ByteSize.Format(needed)} of device memory ({tiles}, " +
            $"{ByteSize.Format(liveBytes)} of it already in use for the network), more than the {ByteSize.Format(budgetBytes)} allowed.",
            needed);
    }
}
