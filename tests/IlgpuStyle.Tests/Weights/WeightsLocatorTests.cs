using IlgpuStyle.Network.Weights;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

public class WeightsLocatorTests(ITestOutputHelper log)
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        k => vars.FirstOrDefault(v => v.Key == k).Value;

    private static string Touch(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "x");
        return path;
    }

    [Fact]
    public void SearchOrderIsOptionThenVariableThenLocalThenCache()
    {
        using var dir = new TempDir();
        var cwd = dir.File("work");
        var option = Touch(dir.File("opt.ilgw"));
        var fromEnv = Touch(dir.File("env.ilgw"));
        var local = Touch(Path.Combine(cwd, "weights", "vgg19.ilgw"));
        var cache = Touch(dir.File("xdg/ilgpu-style/vgg19.ilgw"));
        var env = Env(("ILGPU_STYLE_WEIGHTS", fromEnv), ("XDG_CACHE_HOME", dir.File("xdg")), ("HOME", dir.File("home")));

        Assert.Equal(option, WeightsLocator.Find(option, env, cwd));
        Assert.Equal(fromEnv, WeightsLocator.Find(null, env, cwd));
        var noVar = Env(("XDG_CACHE_HOME", dir.File("xdg")), ("HOME", dir.File("home")));
        Assert.Equal(local, WeightsLocator.Find(null, noVar, cwd));
        File.Delete(local);
        Assert.Equal(cache, WeightsLocator.Find(null, noVar, cwd));

        // Without XDG_CACHE_HOME: ~/.cache.
        var homeCache = Touch(dir.File("home/.cache/ilgpu-style/vgg19.ilgw"));
        Assert.Equal(homeCache, WeightsLocator.Find(null, Env(("HOME", dir.File("home"))), cwd));
    }

    [Fact]
    public void NothingFoundNamesTheCommandsThatMakeWeights()
    {
        using var dir = new TempDir();
        var env = Env(("HOME", dir.File("home")));
        var e = Assert.Throws<WeightsNotFoundException>(() => WeightsLocator.Find(null, env, dir.Path));
        log.WriteLine(e.Message);
        Assert.Contains("ilgpu-style weights convert --from ../shared/vgg19/keras-tfjs-f32-conv1-3 ../shared/vgg19/keras-tfjs-uint8 --out weights/vgg19.ilgw", e.Message);
        Assert.Contains("ilgpu-style weights download", e.Message);
        Assert.Contains(Path.Combine(dir.Path, "weights", "vgg19.ilgw"), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnExplicitPathThatDoesNotExistIsAnError()
    {
        using var dir = new TempDir();
        Touch(Path.Combine(dir.Path, "weights", "vgg19.ilgw"));   // would be found, but an explicit choice wins
        var e = Assert.Throws<WeightsNotFoundException>(() => WeightsLocator.Find(dir.File("typo.ilgw"), Env(), dir.Path));
        Assert.Contains("--weights", e.Message);
        e = Assert.Throws<WeightsNotFoundException>(() => WeightsLocator.Find(null, Env(("ILGPU_STYLE_WEIGHTS", dir.File("typo.ilgw"))), dir.Path));
        Assert.Contains("$ILGPU_STYLE_WEIGHTS=", e.Message);
        Assert.Contains("weights convert", e.Message);
    }
}
