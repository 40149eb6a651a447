#!/usr/bin/env bash
# One command from a fresh clone to a stylized picture:
#   1. installs an OpenCL runtime ILGPU can use when no GPU runtime is present (PoCL >= 6; see README),
#   2. builds the CLI (Release),
#   3. makes VGG19 weights (converted from ../shared/vgg19 when present, else downloaded from torchvision),
#   4. stylizes tubingen × starry night with the default settings.
# Any extra arguments are passed to `ilgpu-style stylize` (e.g. --size 256, --device cpu).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v nvidia-smi >/dev/null 2>&1; then
  bash .ci/install-opencl.sh
fi

dotnet build src/Cli -c Release -v quiet -nologo
cli() { dotnet src/Cli/bin/Release/net10.0/ilgpu-style.dll "$@"; }

images=../shared/images
content=${CONTENT:-$images/tubingen.jpg}
style=${STYLE:-$images/starry_night.jpg}

if [ ! -f weights/vgg19.ilgw ]; then
  if [ -d ../shared/vgg19 ]; then
    cli weights convert --from ../shared/vgg19/keras-tfjs-f32-conv1-3 ../shared/vgg19/keras-tfjs-uint8 --out weights/vgg19.ilgw
  else
    cli weights download --out weights/vgg19.ilgw
  fi
fi

cli devices
mkdir -p out
cli stylize --content "$content" --style "$style" --output out/tubingen_starry.png "$@"
echo "result: out/tubingen_starry.png"
