// Makes the two masks of README's "Spatial control with masks" from ../shared/images/golden_gate.jpg:
//   dotnet run doc/masks/golden_gate_masks.cs -- ../shared/images/golden_gate.jpg doc/masks
// Sky: above the horizon (a soft edge over rows 43–47 % of the height), sky-coloured (a soft step over b − r ∈ [−0.3,
// −0.2]: the red tower and cables are not sky) and bright (a soft step over luma Y ∈ [0.4, 0.55]: the tower's shadows
// and the hills are not); then a 5×5 box blur for soft edges. Ground: 1 − sky. Written at 512 px wide: a mask may have any size with the content's aspect ratio.
#:project ../../src/Stylize/IlgpuStyle.Stylize.csproj
using IlgpuStyle.Stylize.Imaging;

var photo = ImageResizer.FitLongSide(ImageLoader.Load(args[0]), 512);
int w = photo.Width, h = photo.Height;
static float Step(float lo, float hi, float v) => Math.Clamp((v - lo) / (hi - lo), 0f, 1f);
var sky = new float[w * h];
for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
    {
        float r = photo[0, y, x], g = photo[1, y, x], b = photo[2, y, x];
        sky[y * w + x] = (1 - Step(0.43f, 0.47f, (float)y / h)) * Step(-0.3f, -0.2f, b - r) * Step(0.4f, 0.55f, 0.299f * r + 0.587f * g + 0.114f * b);
    }
var soft = new float[w * h];
for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
    {
        float sum = 0;
        int n = 0;
        for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++)
                if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w) { sum += sky[(y + dy) * w + x + dx]; n++; }
        soft[y * w + x] = sum / n;
    }
ImageWriter.Save(new GreyMask(w, h, soft).ToImage(), Path.Combine(args[1], "golden_gate_sky.png"));
ImageWriter.Save(new GreyMask(w, h, soft.Select(v => 1 - v).ToArray()).ToImage(), Path.Combine(args[1], "golden_gate_ground.png"));
Console.WriteLine($"{w}×{h}: sky {soft.Average():P0} of the picture");
