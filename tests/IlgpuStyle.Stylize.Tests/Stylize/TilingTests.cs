using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Tiling;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>The geometry of the tiled evaluation, without a device: halos from the layer list, and tile grids.</summary>
public sealed class TilingTests
{
    [Theory]
    // Worked by hand (ReceptiveField's comment): relu5_1's band is 5 level-4 rows forward (80 px), and walking back
    // through conv5_1, pool4, 4 convs, pool3, 4 convs, pool2, 2 convs, pool1, 2 convs grows it to 150 px → 160.
    [InlineData("relu5_1", 16, 80, 160)]
    [InlineData("conv5_1", 16, 80, 160)]
    [InlineData("relu4_2", 8, 40, 80)]    // forward 5 level-3 rows = 40 px; back 5→7→14→18→36→38→76→78 px → 80
    [InlineData("relu2_1", 2, 4, 8)]
    [InlineData("relu1_1", 1, 1, 2)]
    public void HalosFollowFromTheLayers(string layer, int alignment, int forward, int gradient)
    {
        var halo = ReceptiveField.For(layer);
        Assert.Equal(alignment, halo.Alignment);
        Assert.Equal(forward, halo.Forward);
        Assert.Equal(gradient, halo.Gradient);
    }

    [Theory]
    [InlineData(3840, 2160, 1024, "relu5_1")]
    [InlineData(100, 37, 16, "relu2_1")]
    [InlineData(53, 29, 8, "relu3_1")]
    [InlineData(64, 64, 64, "relu5_1")]
    [InlineData(65, 64, 64, "relu5_1")]
    public void CoresPartitionTheImageAndCropsAreAlignedCoresPlusHalo(int width, int height, int side, string deepest)
    {
        var halo = ReceptiveField.For(deepest);
        var grid = TileGrid.Create(width, height, side, halo);
        var owner = new int[height, width];
        foreach (int margin in new[] { halo.Forward, halo.Gradient })
        {
            Array.Clear(owner);
            var tiles = grid.Tiles(margin).ToList();
            Assert.Equal(grid.Count, tiles.Count);
            foreach (var (core, crop) in tiles)
            {
                Assert.True(core.Height >= 1 && core.Width >= 1);
                Assert.True(core.Height <= Math.Max(side, halo.Alignment) && core.Width <= Math.Max(side, halo.Alignment) || grid.Single);
                Assert.Equal(0, core.Y % halo.Alignment);
                Assert.Equal(0, crop.Y % halo.Alignment);
                Assert.Equal(0, crop.X % halo.Alignment);
                Assert.Equal(Math.Max(0, core.Y - margin), crop.Y);
                Assert.Equal(Math.Max(0, core.X - margin), crop.X);
                Assert.Equal(Math.Min(height, core.Bottom + margin), crop.Bottom);
                Assert.Equal(Math.Min(width, core.Right + margin), crop.Right);
                for (int y = core.Y; y < core.Bottom; y++)
                for (int x = core.X; x < core.Right; x++)
                    owner[y, x]++;
            }
            foreach (int n in owner) Assert.Equal(1, n);
        }
        Assert.Equal(width <= side && height <= side, grid.Single);
    }

    [Fact]
    public void CoresAreSpreadEvenlyNotALeftoverSliver()
    {
        // 2160 rows in cores of at most 1024: three of 720, not 1024 + 1024 + 112.
        var grid = TileGrid.Create(3840, 2160, 1024, ReceptiveField.For("relu5_1"));
        Assert.Equal((3, 4), (grid.Rows, grid.Columns));
        Assert.Equal((720, 960), (grid.CoreHeight, grid.CoreWidth));
        Assert.Equal((720 + 2 * 160, 960 + 2 * 160), grid.LargestCrop(160));
    }
}
