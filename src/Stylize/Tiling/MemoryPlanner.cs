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

    /// <summary>The tile side the loss is built with (null: untiled).</summary>
    public int? TileSide => Tiles is null ? null : Math.Max(Tiles.CoreWidth, Tiles.CoreHeight);

    /// <summary>e.g. <c>3840×2160, tiles 960×720 + halo 160 (12), L-BFGS history 12 (of 100: memory), est. peak 3.70 GiB of 4.00 GiB</c>.</summary>
    public override string ToString()
    {
        string tiles = Tiles is null ? "untiled" : $"tiles {Tiles.CoreWidth}×{Tiles.CoreHeight} + halo {Tiles.Halo.Gradient} ({Tiles.Count})";
        string optimizer = Optimizer == OptimizerKind.Adam ? "Adam"
            : HistoryCut ? $"L-BFGS history {History} (of {RequestedHistory}: memory)" : $"L-BFGS history {History}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Width}×{Height}, {tiles}, {optimizer}, est. peak {ByteSize.Format(EstimatedPeakBytes)} of {ByteSize.Format(BudgetBytes)}");
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
/// longest history that fits beside them;</item>
/// <item>else a <see cref="MemoryBudgetException"/> naming the budget the smallest tiles with history 1 need.</item>
/// </list>
/// A forced tile side (<see cref="RunSettings.TileSide"/>) skips the choice but not the history fit.
/// Test: tests/IlgpuStyle.Tests/Stylize/MemoryPlannerTests.cs.
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
    public static MemoryPlan Plan(int width, int height, IReadOnlyList<(int Width, int Height)> styles, string deepest,
        LossSettings loss, RunSettings run, long liveBytes, long budgetBytes)
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
            long optimize = evaluation + MemoryModel.StateBytes(width, height, loss, run.Optimizer, history, grid is not null);
            long targets = MemoryModel.TargetBytes(width, height, styles, deepest, loss, grid is null ? null : Math.Max(grid.CoreWidth, grid.CoreHeight));
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
            new(width, height, grid, run.Optimizer, lbfgs ? history : 0, requested, liveBytes + Need(grid, Math.Max(history, 0)), budgetBytes);

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
        // Largest tiles first; each side gives a grid of evenly spread cores, so neighbouring sides often repeat one.
        TileGrid? smallest = null;
        string? previous = null;
        for (int side = (Math.Max(width, height) - 1) / halo.Alignment * halo.Alignment; side >= MinimumTileSide(halo); side -= halo.Alignment)
        {
            var grid = TileGrid.Create(width, height, side, halo);
            if (grid.Single || grid.ToString() == previous) continue;
            previous = grid.ToString();
            smallest = grid;
            int h = History(grid);
            if (h >= Math.Max(floor, lbfgs ? 1 : 0)) return Make(grid, h);
        }
        // No tile size keeps the history floor: the longest history the smallest tiles leave room for, with the
        // largest tiles that keep it; else the error.
        if (smallest is not null && History(smallest) is int most && most >= (lbfgs ? 1 : 0))
        {
            previous = null;
            for (int side = (Math.Max(width, height) - 1) / halo.Alignment * halo.Alignment; side >= MinimumTileSide(halo); side -= halo.Alignment)
            {
                var grid = TileGrid.Create(width, height, side, halo);
                if (grid.Single || grid.ToString() == previous) continue;
                previous = grid.ToString();
                if (History(grid) >= most) return Make(grid, History(grid));
            }
        }
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
