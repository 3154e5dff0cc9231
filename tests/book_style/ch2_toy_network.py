"""The toy regression network (y = x1 + x2) as an nn.Module, trained full-batch (chapter 2).
constructs: device string from torch.cuda.is_available(), .float().to(device), nn.Module subclass with
super().__init__() and layers as attributes, Module.to(device), nn.MSELoss, SGD(params, lr), zero_grad/backward/
step, loss_history of 0-d tensors, plt.plot of them, a custom loss function, calling sub-modules directly,
torch.random.manual_seed, a forward returning a tuple, f-string formats of 0-d tensors.
engine-features: cuda, to_device, format, plot_0d
"""
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nnblocks as torch  # noqa: E402
import nnblocks.nn as nn  # noqa: E402
from nnblocks.optim import SGD  # noqa: E402

x = [[1, 2], [3, 4], [5, 6], [7, 8]]
y = [[3], [7], [11], [15]]
X = torch.tensor(x).float()
Y = torch.tensor(y).float()
device = 'cuda' if torch.cuda.is_available() else 'cpu'  # engine: cuda
X = X.to(device)  # engine: to_device
Y = Y.to(device)  # engine: to_device


class MyNeuralNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_to_hidden_layer = nn.Linear(2, 8)
        self.hidden_layer_activation = nn.ReLU()
        self.hidden_to_output_layer = nn.Linear(8, 1)

    def forward(self, x):
        x = self.input_to_hidden_layer(x)
        x = self.hidden_layer_activation(x)
        return self.hidden_to_output_layer(x)


def same_start(model):
    """For the comparison with PyTorch: the same starting weights in both libraries (the book keeps the default
    random initialisation)."""
    state = {}
    for i, (name, value) in enumerate(model.state_dict().items()):
        rng = np.random.default_rng(i)
        state[name] = torch.tensor(rng.uniform(-0.5, 0.5, tuple(value.shape)).astype(np.float32))
    print(model.load_state_dict(state))


torch.random.manual_seed(10)
mynet = MyNeuralNet().to(device)  # engine: to_device
same_start(mynet)
loss_func = nn.MSELoss()
_Y = mynet(X)
loss_value = loss_func(_Y, Y)
print(f"check: initial loss {loss_value:.4f}")  # engine: format


def my_mean_squared_error(_y, y):
    loss = (_y - y) ** 2
    return loss.mean()


print(f"check: custom loss {my_mean_squared_error(_Y, Y).item():.4f}")
opt = SGD(mynet.parameters(), lr=0.001)
loss_history = []
for _ in range(50):
    opt.zero_grad()
    loss_value = loss_func(mynet(X), Y)
    loss_value.backward()
    opt.step()
    loss_history.append(loss_value)
print("check: losses", [round(v.item(), 4) for v in loss_history[::10]])
plt.plot(loss_history)  # nnblocks-only: PyTorch refuses to turn tensors that require grad into NumPy
plt.plot([v.item() for v in loss_history])
plt.title('Loss variation over increasing epochs')
plt.xlabel('epochs')
plt.ylabel('loss value')
plt.close("all")

hidden = mynet.input_to_hidden_layer(X)
print("check: hidden", np.round(hidden.detach().numpy()[0], 4).tolist())
print("check: activated", np.round(mynet.hidden_layer_activation(hidden).detach().numpy()[0], 4).tolist())
val_x = torch.tensor([[10, 11]]).float().to(device)  # engine: to_device
print("check: prediction", round(mynet(val_x).item(), 3))


class TwoOutputs(MyNeuralNet):
    def forward(self, x):
        hidden1 = self.input_to_hidden_layer(x)
        hidden2 = self.hidden_layer_activation(hidden1)
        return self.hidden_to_output_layer(hidden2), hidden1


torch.random.manual_seed(10)
twonet = TwoOutputs().to(device)  # engine: to_device
twonet.load_state_dict(mynet.state_dict())
_Y, _Y_hidden = twonet(X)
print("check: tuple outputs", list(_Y.shape), list(_Y_hidden.shape), round(twonet(X)[0][0, 0].item(), 4),
      round(twonet(X)[1][0, 0].item(), 4))
